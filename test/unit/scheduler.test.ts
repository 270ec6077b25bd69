/** The scheduler driven directly: what each worker is handed, what an answer queues and emits, and how a run fails. */
import { expect, test } from 'vitest';
import type { AttrsetResult, DerivationEvent, ErrorEvent, EvalEvent, WorkResult } from '../../src/events.js';
import { Scheduler, type HeldChunk } from '../../src/master/scheduler.js';
import type { AttrPath } from '../../src/nix/syntax.js';
import { chunkPaths, type ChunkAnswer } from '../../src/work.js';

const drv = (attrPath: AttrPath, system = 'x86_64-linux'): DerivationEvent => ({
  attr: attrPath.join('.'),
  attrPath: [...attrPath],
  name: attrPath.at(-1) ?? 'root',
  system,
  drvPath: `/nix/store/x-${attrPath.join('-')}.drv`,
  outputs: {},
  requiredSystemFeatures: [],
});
const attrset = (attrPath: string[], names: string[]): AttrsetResult => ({ attr: attrPath.join('.'), attrPath, attrs: names });
const skip = (attrPath: string[]): WorkResult => ({ skip: true, attrPath });
const error = (attrPath: string[], message: string): ErrorEvent => ({ attr: attrPath.join('.'), attrPath, error: message, fatal: false });

function take(s: Scheduler, worker: string, maxSize = 1): HeldChunk {
  const chunk = s.next(worker, maxSize);
  if (!chunk) throw new Error(`no chunk for ${worker}`);
  return chunk;
}

/** Completes `chunk` with `answer`: the run's failure, if it ends it, and the events emitted. */
function complete(s: Scheduler, worker: string, chunk: HeldChunk, answer: ChunkAnswer) {
  const events: EvalEvent[] = [];
  const failure = s.complete(worker, chunk, answer, (event) => events.push(event));
  return { failure, events };
}

/** The attributes a chunk names, dotted. */
const attrsOf = (chunk: HeldChunk): string[] => chunkPaths(chunk.units).map((path) => path.join('.'));

/** A derivation for every attribute the chunk names. */
const derivationsFor = (chunk: HeldChunk): ChunkAnswer => chunkPaths(chunk.units).map((path) => drv(path));

test('walks from the root through attrsets to the end', () => {
  const s = new Scheduler();
  s.addWorker('w');
  const root = take(s, 'w', 10);
  expect(root).toEqual({ units: [{ kind: 'path', path: [] }], size: 1 });
  expect(s.next('w', 10)).toBeUndefined(); // nothing else is known yet
  expect(complete(s, 'w', root, [attrset([], ['a', 'b'])])).toEqual({ failure: undefined, events: [attrset([], ['a', 'b'])] });
  expect(s.done).toBe(false);
  const a = take(s, 'w');
  const b = take(s, 'w'); // a worker may hold several chunks
  expect(a.units).toEqual([{ kind: 'siblings', parent: [], from: 0, names: ['a'] }]);
  expect(b.units).toEqual([{ kind: 'siblings', parent: [], from: 1, names: ['b'] }]);
  expect(complete(s, 'w', b, [skip(['b'])]).events).toEqual([]);
  expect(s.done).toBe(false);
  expect(complete(s, 'w', a, [drv(['a'])]).events).toEqual([drv(['a'])]);
  expect(s.done).toBe(true);
  expect(s.stats).toEqual({ queued: 0, busy: 0, busyWorkers: 0, completed: 3, errors: 0, workers: 1 });
});

test('completing a chunk the worker does not hold is a bug, reported loudly', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  const root = take(s, 'a');
  expect(() => s.complete('b', root, [attrset([], ['x'])], () => {})).toThrow(/does not hold/);
  complete(s, 'a', root, [attrset([], ['x'])]);
  expect(() => s.complete('a', root, [attrset([], ['x'])], () => {})).toThrow(/does not hold/);
  const x = take(s, 'a');
  s.fail('a', x);
  expect(() => s.complete('a', x, [drv(['x'])], () => {})).toThrow(/does not hold/);
});

test('an unknown or removed worker gets nothing', () => {
  const s = new Scheduler();
  expect(s.next('ghost', 10)).toBeUndefined();
  s.addWorker('a');
  s.addWorker('b');
  complete(s, 'a', take(s, 'a'), [attrset([], ['x', 'y'])]);
  s.removeWorker('b');
  expect(s.queued).toBe(2);
  expect(s.next('b', 10)).toBeUndefined();
  expect(s.queued).toBe(2);
  expect(attrsOf(take(s, 'a'))).toEqual(['x']);
});

test('two workers share one queue', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  complete(s, 'a', take(s, 'a'), [attrset([], ['x', 'y'])]);
  const x = take(s, 'a');
  const y = take(s, 'b');
  expect([attrsOf(x), attrsOf(y)]).toEqual([['x'], ['y']]);
  expect(s.next('a', 10)).toBeUndefined();
  complete(s, 'b', y, [drv(['y'])]);
  expect(s.done).toBe(false);
  complete(s, 'a', x, [drv(['x'])]);
  expect(s.done).toBe(true);
});

test('an error at the root is fatal and says so in its event', () => {
  const s = new Scheduler();
  s.addWorker('w');
  const { failure, events } = complete(s, 'w', take(s, 'w'), [error([], 'syntax error')]);
  expect(failure).toEqual({ kind: 'input', message: 'syntax error' });
  expect(events).toEqual([{ ...error([], 'syntax error'), fatal: true }]);
  expect(s.fatal).toEqual(failure);
  expect(s.done).toBe(true);
  expect(s.next('w', 10)).toBeUndefined();
});

test('an error anywhere else is an event, and the rest of the answer still counts', () => {
  const s = new Scheduler([['jobs']]);
  s.addWorker('w');
  expect(complete(s, 'w', take(s, 'w'), [error(['jobs'], 'e')])).toEqual({ failure: undefined, events: [error(['jobs'], 'e')] });

  const t = new Scheduler();
  t.addWorker('w');
  complete(t, 'w', take(t, 'w'), [attrset([], ['x', 'y'])]);
  const { failure, events } = complete(t, 'w', take(t, 'w', 2), [error(['x'], 'boom'), drv(['y'])]);
  expect(failure).toBeUndefined();
  expect(events).toEqual([error(['x'], 'boom'), drv(['y'])]);
  expect(t.done).toBe(true);
  expect(t.stats).toMatchObject({ completed: 3, errors: 1 });
});

test('a derivation for a system its worker does not own waits for a worker that owns it, ahead of fresh attributes', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  complete(s, 'x86', take(s, 'x86'), [attrset([], ['a', 'b', 'c'])]);
  const { failure, events } = complete(s, 'x86', take(s, 'x86', 2), [drv(['a'], 'aarch64-linux'), drv(['b'])]);
  expect(failure).toBeUndefined();
  expect(events).toEqual([drv(['b'])]);
  expect(s.queued).toBe(2);
  expect(attrsOf(take(s, 'x86', 10))).toEqual(['c']); // not the derivation it rejected
  expect(s.next('x86', 10)).toBeUndefined();
  expect(s.done).toBe(false);
  const again = take(s, 'arm', 10);
  expect(again.units).toEqual([{ kind: 'path', path: ['a'] }]);
  expect(complete(s, 'arm', again, [drv(['a'], 'aarch64-linux')]).events).toEqual([drv(['a'], 'aarch64-linux')]);
  expect(s.stats).toMatchObject({ queued: 0, busy: 1, completed: 3 }); // c is still held
});

test('a waiting derivation goes to its system’s worker before fresh attributes, in the same chunk', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  complete(s, 'x86', take(s, 'x86'), [attrset([], ['a', 'b', 'c'])]);
  complete(s, 'x86', take(s, 'x86'), [drv(['a'], 'aarch64-linux')]);
  expect(take(s, 'arm', 2).units).toEqual([
    { kind: 'path', path: ['a'] },
    { kind: 'siblings', parent: [], from: 1, names: ['b'] },
  ]);
});

test('a derivation for a system no worker owns fails the run with its attribute and system', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  complete(s, 'x86', take(s, 'x86'), [attrset([], ['mac'])]);
  const { failure, events } = complete(s, 'x86', take(s, 'x86'), [drv(['mac'], 'aarch64-darwin')]);
  const expected = { kind: 'unroutable', message: 'no worker accepted derivation at mac for system aarch64-darwin' };
  expect(failure).toEqual(expected);
  expect(events).toEqual([]);
  expect(s.fatal).toEqual(expected);
  expect(s.done).toBe(true);
  expect(s.next('arm', 10)).toBeUndefined();
});

test('losing the last worker that owns a waiting derivation’s system is fatal', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.addWorker('arm2', new Set(['aarch64-linux']));
  complete(s, 'x86', take(s, 'x86'), [attrset([], ['a'])]);
  complete(s, 'x86', take(s, 'x86'), [drv(['a'], 'aarch64-linux')]);
  expect(s.removeWorker('arm')).toBeUndefined();
  expect(s.fatal).toBeUndefined();
  expect(s.removeWorker('arm2')).toEqual({ kind: 'unroutable', message: 'no worker accepted derivation at a for system aarch64-linux' });
  expect(s.done).toBe(true);
});

test('a chunk a worker fails is handed out again first, whole, and handing back one not held does nothing', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  complete(s, 'a', take(s, 'a'), [attrset([], ['p', 'q', 'r', 's'])]);
  const pq = take(s, 'a', 2);
  s.fail('a', pq);
  expect(s.stats).toMatchObject({ queued: 4, busy: 0, busyWorkers: 0 });
  s.fail('a', pq);
  expect(s.stats).toMatchObject({ queued: 4, busy: 0 });
  const again = take(s, 'b', 1); // asks for one attribute, gets the whole chunk back
  expect(again).toEqual(pq);
  expect(attrsOf(take(s, 'b', 1))).toEqual(['r']);
});

test('a worker that leaves hands its chunks back first, and the run ends once another answers them', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  complete(s, 'a', take(s, 'a'), [attrset([], ['p', 'q', 'r'])]);
  const p = take(s, 'b');
  const q = take(s, 'b');
  expect(s.removeWorker('b')).toBeUndefined();
  expect(s.stats).toMatchObject({ queued: 3, busy: 0, busyWorkers: 0, workers: 1 });
  const first = take(s, 'a', 10);
  const second = take(s, 'a', 10);
  expect([first, second]).toEqual(expect.arrayContaining([p, q]));
  const last = take(s, 'a', 10);
  expect(attrsOf(last)).toEqual(['r']);
  for (const chunk of [first, second, last]) complete(s, 'a', chunk, derivationsFor(chunk));
  expect(s.done).toBe(true);
});

test('when the last worker leaves with work remaining the run fails, saying which worker and why', () => {
  const s = new Scheduler();
  s.addWorker('a');
  complete(s, 'a', take(s, 'a'), [attrset([], ['x'])]);
  take(s, 'a');
  expect(s.removeWorker('a', 'its connection was lost')).toEqual({
    kind: 'workers',
    message: 'no worker is left to evaluate the remaining attributes (a: its connection was lost)',
  });
  expect(s.done).toBe(true);

  const finished = new Scheduler();
  finished.addWorker('a');
  complete(finished, 'a', take(finished, 'a'), [drv([])]);
  expect(finished.removeWorker('a')).toBeUndefined();
  expect(finished.fatal).toBeUndefined();
});

test('workers owning no systems accept any', () => {
  for (const systems of [new Set<string>(), undefined]) {
    const s = new Scheduler();
    s.addWorker('any', systems);
    expect(complete(s, 'any', take(s, 'any'), [drv([], 'aarch64-darwin')])).toEqual({ failure: undefined, events: [drv([], 'aarch64-darwin')] });
    expect(s.done).toBe(true);
  }
});

test('counts the chunks each worker holds, the attributes held, and the errors answered', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  complete(s, 'a', take(s, 'a'), [attrset([], ['x', 'y', 'z', 'v'])]);
  const xy = take(s, 'a', 2);
  take(s, 'a');
  take(s, 'b');
  expect([s.holding('a'), s.holding('b'), s.holding('ghost')]).toEqual([2, 1, 0]);
  expect(s.stats).toEqual({ queued: 0, busy: 4, busyWorkers: 2, completed: 1, errors: 0, workers: 2 });
  complete(s, 'a', xy, [error(['x'], 'boom'), drv(['y'])]);
  expect(s.holding('a')).toBe(1);
  expect(s.stats).toEqual({ queued: 0, busy: 2, busyWorkers: 2, completed: 3, errors: 1, workers: 2 });
});

test('a set of 100k children is handed out in chunks of the size asked, each child once and in order', () => {
  const count = 100_000;
  const children = Array.from({ length: count }, (_, i) => `c${i}`);
  const s = new Scheduler();
  s.addWorker('w');
  complete(s, 'w', take(s, 'w'), [attrset([], children)]);
  expect(s.queued).toBe(count);
  const asked = [1, 7, 1000, 4096];
  const held: HeldChunk[] = [];
  for (let from = 0; from < count; ) {
    const size = Math.min(asked[held.length % asked.length]!, count - from);
    const chunk = take(s, 'w', asked[held.length % asked.length]!);
    expect(chunk.size).toBe(size);
    expect(chunk.units).toEqual([{ kind: 'siblings', parent: [], from, names: children.slice(from, from + size) }]);
    held.push(chunk);
    from += size;
    expect(s.queued).toBe(count - from);
  }
  expect(s.next('w', 10)).toBeUndefined();
  let emitted = 0;
  for (const chunk of held) emitted += complete(s, 'w', chunk, derivationsFor(chunk)).events.length;
  expect(emitted).toBe(count);
  expect(s.done).toBe(true);
});

test('a set whose children came in the same answer does not queue them, and its event has no trace of that', () => {
  const s = new Scheduler();
  s.addWorker('w');
  const answer: ChunkAnswer = [
    { ...attrset([], ['a', 'b']), childrenAnswered: true },
    drv(['a']),
    { ...attrset(['b'], ['c']), childrenAnswered: false },
  ];
  const { events } = complete(s, 'w', take(s, 'w'), answer);
  expect(events).toStrictEqual([attrset([], ['a', 'b']), drv(['a']), attrset(['b'], ['c'])]);
  expect(s.queued).toBe(1);
  const c = take(s, 'w', 10);
  expect(c.units).toEqual([{ kind: 'siblings', parent: ['b'], from: 0, names: ['c'] }]);
  complete(s, 'w', c, [drv(['b', 'c'])]);
  expect(s.done).toBe(true);
  expect(s.stats).toMatchObject({ completed: 4 });
});

test('a chunk takes roots and the children of several sets in the order they were found, cut where it is full', () => {
  const s = new Scheduler([['a'], ['b'], ['c']]);
  s.addWorker('w');
  const ab = take(s, 'w', 2);
  expect(ab).toEqual({ units: [{ kind: 'path', path: ['a'] }, { kind: 'path', path: ['b'] }], size: 2 });
  complete(s, 'w', ab, [attrset(['a'], ['x', 'y']), attrset(['b'], ['z'])]);
  const cx = take(s, 'w', 2);
  expect(cx).toEqual({ units: [{ kind: 'path', path: ['c'] }, { kind: 'siblings', parent: ['a'], from: 0, names: ['x'] }], size: 2 });
  const yz = take(s, 'w', 10);
  expect(yz).toEqual({
    units: [
      { kind: 'siblings', parent: ['a'], from: 1, names: ['y'] },
      { kind: 'siblings', parent: ['b'], from: 0, names: ['z'] },
    ],
    size: 2,
  });
  expect(complete(s, 'w', cx, derivationsFor(cx)).events.map((e) => e.attr)).toEqual(['c', 'a.x']);
  expect(complete(s, 'w', yz, derivationsFor(yz)).events.map((e) => e.attr)).toEqual(['a.y', 'b.z']);
  expect(s.done).toBe(true);
});

// Linear work takes a few hundred ms here even on a slow machine; a take that costs in proportion to the queue, minutes.
const LONG_QUEUE = 200_000;
const CHEAP_MS = 2000;

/**
 * Takes the queued attributes one at a time, answering each with a derivation
 * for `system`; returns how many ms that took, giving up once past CHEAP_MS.
 */
function drainOneAtATime(s: Scheduler, worker: string, count: number, system?: string): number {
  const started = performance.now();
  let taken = 0;
  for (let chunk = s.next(worker, 1); chunk; chunk = s.next(worker, 1)) {
    s.complete(worker, chunk, chunkPaths(chunk.units).map((path) => drv(path, system)), () => {});
    taken++;
    if (taken % 1000 === 0 && performance.now() - started > CHEAP_MS) return performance.now() - started;
  }
  const took = performance.now() - started;
  expect(taken).toBe(count);
  expect(s.done).toBe(true);
  return took;
}

test('taking and answering stay cheap however long the queue: 200k children of one set', () => {
  const s = new Scheduler();
  s.addWorker('w');
  complete(s, 'w', take(s, 'w'), [attrset([], Array.from({ length: LONG_QUEUE }, (_, i) => `c${i}`))]);
  expect(drainOneAtATime(s, 'w', LONG_QUEUE)).toBeLessThan(CHEAP_MS);
});

test('taking and answering stay cheap however long the queue: 200k roots', () => {
  const s = new Scheduler(Array.from({ length: LONG_QUEUE }, (_, i) => [`r${i}`]));
  s.addWorker('w');
  expect(drainOneAtATime(s, 'w', LONG_QUEUE)).toBeLessThan(CHEAP_MS);
});

test('taking and answering stay cheap however long the queue: 200k derivations waiting for their system', () => {
  const s = new Scheduler();
  s.addWorker('x86', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  complete(s, 'x86', take(s, 'x86'), [attrset([], Array.from({ length: LONG_QUEUE }, (_, i) => `c${i}`))]);
  for (let i = 0; i < LONG_QUEUE / 1000; i++) {
    const chunk = take(s, 'x86', 1000);
    complete(s, 'x86', chunk, chunkPaths(chunk.units).map((path) => drv(path, 'aarch64-linux')));
  }
  expect(s.next('x86', 1000)).toBeUndefined();
  expect(s.queued).toBe(LONG_QUEUE);
  expect(drainOneAtATime(s, 'arm', LONG_QUEUE, 'aarch64-linux')).toBeLessThan(CHEAP_MS);
});

test('a sweep delivers as it goes: the run is not over until its chunk is complete, and what it delivered is not asked again', () => {
  const s = new Scheduler();
  s.addWorker('w');
  complete(s, 'w', take(s, 'w'), [attrset([], ['a', 'b', 'c'])]);
  const chunk = take(s, 'w', 3);
  const events: EvalEvent[] = [];
  s.deliver('w', chunk, [drv(['a']), { ...attrset(['b'], ['x']), childrenAnswered: true }, drv(['b', 'x'])], (event) => events.push(event));
  expect(events.map((e) => e.attr)).toEqual(['a', 'b', 'b.x']);
  expect(s.done).toBe(false);
  expect(s.stats.completed).toBe(4);
  complete(s, 'w', chunk, [drv(['c'])]);
  expect(s.done).toBe(true);
});

test('a sweep that fails after delivering gives back only what it left, each path with all under it', () => {
  const s = new Scheduler();
  s.addWorker('w');
  s.addWorker('v');
  complete(s, 'w', take(s, 'w'), [attrset([], ['a', 'b', 'c'])]);
  const chunk = take(s, 'w', 3);
  s.deliver('w', chunk, [drv(['a'])], () => {});
  s.failRest('w', chunk, [['b'], ['c']]);
  expect(s.queued).toBe(2);
  const again = take(s, 'v', 10);
  expect(chunkPaths(again.units)).toEqual([['b'], ['c']]);
  expect(() => s.deliver('w', chunk, [drv(['b'])], () => {})).toThrow(/does not hold/);
});

test('an unstarted walk splits its root in parts, one per worker; together they answer it and nothing else is queued', () => {
  const s = new Scheduler();
  s.addWorker('a');
  s.addWorker('b');
  expect(s.unstarted).toBe(true);
  s.partitionRoot(2);
  expect(s.queued).toBe(2);
  const first = take(s, 'a', 5);
  const second = take(s, 'b', 5);
  expect([first.units, second.units]).toEqual([[{ kind: 'part', path: [], part: 0, parts: 2 }], [{ kind: 'part', path: [], part: 1, parts: 2 }]]);
  complete(s, 'a', first, [{ ...attrset([], ['x', 'y']), childrenAnswered: true }, drv(['x'])]);
  expect(s.done).toBe(false);
  complete(s, 'b', second, [drv(['y'])]);
  expect(s.done).toBe(true);
  expect(() => s.partitionRoot(2)).toThrow(/not started/);
});

/** Streams `results` of `chunk` (Scheduler.stream): the attributes emitted. */
function stream(s: Scheduler, worker: string, chunk: HeldChunk, results: ChunkAnswer): string[] {
  const events: EvalEvent[] = [];
  s.stream(worker, chunk, results, (event) => events.push(event));
  return events.map((e) => e.attr);
}

const walked = (attrPath: string[], names: string[]): AttrsetResult => ({ ...attrset(attrPath, names), childrenAnswered: true });

/** A walk split in two parts, both taken: the remote's (r) and the local worker's (l). */
function partsTaken(): { s: Scheduler; remote: HeldChunk; local: HeldChunk } {
  const s = new Scheduler();
  s.addWorker('l');
  s.addWorker('r');
  s.partitionRoot(2);
  return { s, local: take(s, 'l'), remote: take(s, 'r') };
}

test('a part streamed and then lost comes back whole, and its next answer delivers only what the first did not', () => {
  const { s, remote, local } = partsTaken();
  complete(s, 'l', local, [walked([], ['a', 'b', 'c', 'd'])]);
  expect(stream(s, 'r', remote, [walked(['b'], ['x', 'y']), drv(['b', 'x'])])).toEqual(['b', 'b.x']);
  s.fail('r', remote);
  s.removeWorker('r');
  const again = take(s, 'l', 10);
  expect(again).toBe(remote);
  const { events } = complete(s, 'l', again, [walked(['b'], ['x', 'y']), drv(['b', 'x']), drv(['b', 'y']), drv(['d'])]);
  expect(events.map((e) => e.attr)).toEqual(['b.y', 'd']);
  expect(s.done).toBe(true);
  expect(s.stats.completed).toBe(5);
});

test('a lost part is filtered however often it is lost, and whoever answers it next', () => {
  const { s, remote } = partsTaken();
  s.addWorker('v');
  expect(stream(s, 'r', remote, [drv(['b'])])).toEqual(['b']);
  s.fail('r', remote);
  const second = take(s, 'v');
  expect(stream(s, 'v', second, [drv(['b']), drv(['d'])])).toEqual(['d']);
  s.fail('v', second);
  const third = take(s, 'r');
  expect(complete(s, 'r', third, [drv(['b']), drv(['d']), drv(['f'])]).events.map((e) => e.attr)).toEqual(['f']);
});

test('under a set whose children the first answer queued, a rerun delivers nothing: the queue answers them, once', () => {
  const { s, remote } = partsTaken();
  expect(stream(s, 'r', remote, [attrset(['b'], ['x', 'y'])])).toEqual(['b']);
  s.fail('r', remote);
  const again = take(s, 'l', 10);
  expect(again).toBe(remote);
  // The rerun walks b itself this time; all of it is the queue's.
  expect(complete(s, 'l', again, [walked(['b'], ['x', 'y']), drv(['b', 'x']), drv(['b', 'y']), drv(['d'])]).events.map((e) => e.attr)).toEqual(['d']);
  const children = take(s, 'l', 10);
  expect(children.earlier).toBeUndefined();
  expect(complete(s, 'l', children, [drv(['b', 'x']), drv(['b', 'y'])]).events.map((e) => e.attr)).toEqual(['b.x', 'b.y']);
});

test('a set walked before and not now: its children are queued alone, filtered by what was delivered under it', () => {
  const { s, remote, local } = partsTaken();
  complete(s, 'l', local, []);
  // b was walked: b.x delivered, b.y a set whose children were queued, b.z never reached.
  expect(stream(s, 'r', remote, [walked(['b'], ['x', 'y', 'z']), drv(['b', 'x']), attrset(['b', 'y'], ['q'])])).toEqual(['b', 'b.x', 'b.y']);
  s.fail('r', remote);
  const again = take(s, 'l', 10);
  expect(complete(s, 'l', again, [attrset(['b'], ['x', 'y', 'z']), drv(['d'])]).events.map((e) => e.attr)).toEqual(['d']);
  // b.y's child, queued by the first answer, and b's children, queued now: apart, the second with the record.
  const q = take(s, 'l', 10);
  expect(attrsOf(q)).toEqual(['b.y.q']);
  const bChildren = take(s, 'l', 10);
  expect(attrsOf(bChildren)).toEqual(['b.x', 'b.y', 'b.z']);
  expect(bChildren.earlier).toBeDefined();
  expect(complete(s, 'l', bChildren, [drv(['b', 'x']), attrset(['b', 'y'], ['q']), drv(['b', 'z'])]).events.map((e) => e.attr)).toEqual(['b.z']);
  expect(complete(s, 'l', q, [drv(['b', 'y', 'q'])]).events.map((e) => e.attr)).toEqual(['b.y.q']);
  expect(s.done).toBe(true);
});

test('a derivation a lost part routed to another system’s worker is not routed again', () => {
  const s = new Scheduler();
  s.addWorker('l', new Set(['x86_64-linux']));
  s.addWorker('r', new Set(['x86_64-linux']));
  s.addWorker('arm', new Set(['aarch64-linux']));
  s.partitionRoot(3);
  take(s, 'l');
  const remote = take(s, 'r');
  expect(stream(s, 'r', remote, [drv(['b'], 'aarch64-linux')])).toEqual([]);
  s.fail('r', remote);
  expect(s.queued).toBe(3); // the part back, the routed derivation, and the third part
  const again = take(s, 'r');
  expect(again).toBe(remote);
  complete(s, 'r', again, [drv(['b'], 'aarch64-linux'), drv(['d'])]);
  expect(s.queued).toBe(2);
});
