import { expect, test } from 'vitest';
import type { DerivationEvent, WorkResult } from '../../src/events.js';
import { Scheduler } from '../../src/master/scheduler.js';

const drv = (attrPath: string[], system = 'x86_64-linux'): DerivationEvent => ({
  attr: attrPath.join('.'),
  attrPath,
  name: attrPath.at(-1) ?? 'root',
  system,
  drvPath: `/nix/store/x-${attrPath.join('-')}.drv`,
  outputs: {},
});
const attrs = (attrPath: string[], names: string[]): WorkResult => ({ attr: attrPath.join('.'), attrPath, attrs: names });

test('walks from the root through attrsets to the end', () => {
  const s = new Scheduler();
  s.addWorker('w');
  expect(s.next('w')?.path).toEqual([]);
  expect(s.next('w')).toBeUndefined(); // busy
  expect(s.complete('w', attrs([], ['a', 'b']))).toEqual({ kind: 'event', event: attrs([], ['a', 'b']) });
  expect(s.done).toBe(false);
  expect(s.next('w')?.path).toEqual(['a']);
  expect(s.complete('w', drv(['a'])).kind).toBe('event');
  expect(s.next('w')?.path).toEqual(['b']);
  expect(s.complete('w', { skip: true, attrPath: ['b'] })).toEqual({ kind: 'skip' });
  expect(s.done).toBe(true);
  expect(s.stats).toEqual({ queued: 0, busy: 0, completed: 3, workers: 1 });
});

test('two workers share one queue', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  s.next('a');
  s.complete('a', attrs([], ['x', 'y']));
  expect(s.next('a')?.path).toEqual(['x']);
  expect(s.next('b')?.path).toEqual(['y']);
  expect(s.next('a')).toBeUndefined();
  s.complete('b', drv(['y']));
  expect(s.done).toBe(false);
  s.complete('a', drv(['x']));
  expect(s.done).toBe(true);
});

test('an error at the root is fatal; elsewhere it is an event', () => {
  const s = new Scheduler();
  s.addWorker('w');
  s.next('w');
  const outcome = s.complete('w', { attr: '', attrPath: [], error: 'syntax error', fatal: false });
  expect(outcome).toEqual({ kind: 'fatal', message: 'syntax error', event: { attr: '', attrPath: [], error: 'syntax error', fatal: true } });
  expect(s.done).toBe(true);
  expect(s.next('w')).toBeUndefined();

  const t = new Scheduler(['jobs']);
  t.addWorker('w');
  t.next('w');
  expect(t.complete('w', { attr: 'jobs', attrPath: ['jobs'], error: 'e', fatal: false }).kind).toBe('event');
});

test('a derivation for a system the worker does not own goes to another worker', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.next('x86');
  s.complete('x86', attrs([], ['a']));
  expect(s.next('x86')?.path).toEqual(['a']);
  expect(s.complete('x86', drv(['a'], 'aarch64-linux'))).toEqual({ kind: 'requeued' });
  expect(s.next('x86')).toBeUndefined(); // it rejected the only item
  expect(s.next('arm')?.path).toEqual(['a']);
  expect(s.complete('arm', drv(['a'], 'aarch64-linux')).kind).toBe('event');
  expect(s.done).toBe(true);
});

test('when every worker rejects a path the run fails with the attr and system', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.next('x86');
  s.complete('x86', attrs([], ['mac']));
  s.next('x86');
  s.complete('x86', drv(['mac'], 'aarch64-darwin'));
  s.next('arm');
  const outcome = s.complete('arm', drv(['mac'], 'aarch64-darwin'));
  expect(outcome).toEqual({ kind: 'fatal', message: 'no worker accepted derivation at mac for system aarch64-darwin' });
  expect(s.fatal).toBe('no worker accepted derivation at mac for system aarch64-darwin');
  expect(s.done).toBe(true);
});

test('a worker that fails or leaves mid-item hands its item back', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  s.next('a');
  s.complete('a', attrs([], ['x']));
  s.next('a');
  s.fail('a');
  expect(s.next('b')?.path).toEqual(['x']);
  expect(s.removeWorker('b')).toBeUndefined();
  expect(s.next('a')?.path).toEqual(['x']);
  expect(s.removeWorker('a')).toBe('no worker is left to evaluate the remaining attributes');
});

test('losing the last worker that could take a rejected item is fatal', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.next('x86');
  s.complete('x86', attrs([], ['a']));
  s.next('x86');
  s.complete('x86', drv(['a'], 'aarch64-linux'));
  expect(s.removeWorker('arm')).toBe('no worker accepted derivation at a for system aarch64-linux');
});

test('workers owning no systems accept any', () => {
  const s = new Scheduler();
  s.addWorker('any', new Set());
  s.next('any');
  expect(s.complete('any', drv([], 'aarch64-darwin')).kind).toBe('event');
});
