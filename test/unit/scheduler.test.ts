import { expect, test } from 'vitest';
import type { DerivationEvent, WorkResult } from '../../src/events.js';
import { Scheduler, type WorkItem } from '../../src/master/scheduler.js';

const drv = (attrPath: string[], system = 'x86_64-linux'): DerivationEvent => ({
  attr: attrPath.join('.'),
  attrPath,
  name: attrPath.at(-1) ?? 'root',
  system,
  drvPath: `/nix/store/x-${attrPath.join('-')}.drv`,
  outputs: {},
  requiredSystemFeatures: [],
});
const attrs = (attrPath: string[], names: string[]): WorkResult => ({ attr: attrPath.join('.'), attrPath, attrs: names });

function take(s: Scheduler, worker: string): WorkItem {
  const item = s.next(worker);
  if (!item) throw new Error(`no item for ${worker}`);
  return item;
}

test('walks from the root through attrsets to the end', () => {
  const s = new Scheduler();
  s.addWorker('w');
  const root = take(s, 'w');
  expect(root.path).toEqual([]);
  expect(s.next('w')).toBeUndefined(); // nothing else is known yet
  expect(s.complete('w', root, attrs([], ['a', 'b']))).toEqual({ kind: 'event', event: attrs([], ['a', 'b']) });
  expect(s.done).toBe(false);
  const a = take(s, 'w');
  const b = take(s, 'w'); // a worker may hold several items
  expect([a.path, b.path]).toEqual([['a'], ['b']]);
  expect(s.complete('w', b, { skip: true, attrPath: ['b'] })).toEqual({ kind: 'skip' });
  expect(s.done).toBe(false);
  expect(s.complete('w', a, drv(['a'])).kind).toBe('event');
  expect(s.done).toBe(true);
  expect(s.stats).toEqual({ queued: 0, busy: 0, busyWorkers: 0, completed: 3, errors: 0, workers: 1 });
});

test('completing an item the worker does not hold is a bug, reported loudly', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  const root = take(s, 'a');
  expect(() => s.complete('b', root, drv([]))).toThrow(/does not hold/);
});

test('an unknown or removed worker gets nothing', () => {
  const s = new Scheduler();
  expect(s.next('ghost')).toBeUndefined();
  s.addWorker('a');
  s.addWorker('b');
  s.complete('a', take(s, 'a'), attrs([], ['x', 'y']));
  s.removeWorker('b');
  expect(s.stats.queued).toBe(2);
  expect(s.next('b')).toBeUndefined();
  expect(s.stats.queued).toBe(2);
  expect(take(s, 'a').path).toEqual(['x']);
});

test('two workers share one queue', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  s.complete('a', take(s, 'a'), attrs([], ['x', 'y']));
  const x = take(s, 'a');
  const y = take(s, 'b');
  expect([x.path, y.path]).toEqual([['x'], ['y']]);
  expect(s.next('a')).toBeUndefined();
  s.complete('b', y, drv(['y']));
  expect(s.done).toBe(false);
  s.complete('a', x, drv(['x']));
  expect(s.done).toBe(true);
});

test('an error at the root is fatal; elsewhere it is an event', () => {
  const s = new Scheduler();
  s.addWorker('w');
  const outcome = s.complete('w', take(s, 'w'), { attr: '', attrPath: [], error: 'syntax error', fatal: false });
  expect(outcome).toEqual({ kind: 'fatal', failure: { kind: 'input', message: 'syntax error' }, event: { attr: '', attrPath: [], error: 'syntax error', fatal: true } });
  expect(s.done).toBe(true);
  expect(s.next('w')).toBeUndefined();

  const t = new Scheduler([['jobs']]);
  t.addWorker('w');
  expect(t.complete('w', take(t, 'w'), { attr: 'jobs', attrPath: ['jobs'], error: 'e', fatal: false }).kind).toBe('event');
});

test('a derivation for a system the worker does not own goes to another worker', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.complete('x86', take(s, 'x86'), attrs([], ['a', 'b']));
  const a = take(s, 'x86');
  expect(a.path).toEqual(['a']);
  expect(s.complete('x86', a, drv(['a'], 'aarch64-linux'))).toEqual({ kind: 'requeued' });
  expect(take(s, 'x86').path).toEqual(['b']); // it skips the item it rejected
  expect(s.next('x86')).toBeUndefined();
  const again = take(s, 'arm');
  expect(again.path).toEqual(['a']);
  expect(s.complete('arm', again, drv(['a'], 'aarch64-linux')).kind).toBe('event');
});

test('when every worker rejects a path the run fails with the attr and system', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.complete('x86', take(s, 'x86'), attrs([], ['mac']));
  s.complete('x86', take(s, 'x86'), drv(['mac'], 'aarch64-darwin'));
  const outcome = s.complete('arm', take(s, 'arm'), drv(['mac'], 'aarch64-darwin'));
  const failure = { kind: 'unroutable', message: 'no worker accepted derivation at mac for system aarch64-darwin' };
  expect(outcome).toEqual({ kind: 'fatal', failure });
  expect(s.fatal).toEqual(failure);
  expect(s.done).toBe(true);
});

test('a worker that fails or leaves mid-item hands its items back', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  s.complete('a', take(s, 'a'), attrs([], ['x', 'y']));
  const x = take(s, 'a');
  s.fail('a', x);
  expect(take(s, 'b').path).toEqual(['x']);
  expect(take(s, 'b').path).toEqual(['y']);
  expect(s.removeWorker('b')).toBeUndefined();
  expect(s.stats.queued).toBe(2);
  expect(take(s, 'a').path).toEqual(['x']);
  expect(s.removeWorker('a', 'its connection was lost')).toEqual({ kind: 'workers', message: 'no worker is left to evaluate the remaining attributes (a: its connection was lost)' });
});

test('losing the last worker that could take a rejected item is fatal', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.complete('x86', take(s, 'x86'), attrs([], ['a']));
  s.complete('x86', take(s, 'x86'), drv(['a'], 'aarch64-linux'));
  expect(s.removeWorker('arm')).toEqual({ kind: 'unroutable', message: 'no worker accepted derivation at a for system aarch64-linux' });
});

test('workers owning no systems accept any', () => {
  const s = new Scheduler();
  s.addWorker('any', new Set());
  expect(s.complete('any', take(s, 'any'), drv([], 'aarch64-darwin')).kind).toBe('event');
});

test('counts what workers hold and the errors answered', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  s.complete('a', take(s, 'a'), attrs([], ['x', 'y', 'z']));
  const x = take(s, 'a');
  take(s, 'a');
  take(s, 'b');
  expect([s.holding('a'), s.holding('b'), s.holding('ghost')]).toEqual([2, 1, 0]);
  expect(s.stats).toMatchObject({ busy: 3, busyWorkers: 2, errors: 0 });
  s.complete('a', x, { attr: 'x', attrPath: ['x'], error: 'boom', fatal: false });
  expect(s.holding('a')).toBe(1);
  expect(s.stats).toMatchObject({ busy: 2, completed: 2, errors: 1 });
});
