/**
 * The dispatcher driven in-process by fake workers (no Nix), on fake time:
 * who gets which chunk, how big, when, and what happens on failure.
 */
import { afterEach, beforeEach, expect, test, vi } from 'vitest';
import { isAttrsetEvent, type DerivationEvent, type EvalEvent, type WorkResult } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { ChunkPace, GROWTH, MAX_CHUNK_RESULTS } from '../../src/master/chunk-pace.js';
import { Dispatcher, START_EVALUATOR_AFTER_MS } from '../../src/master/dispatcher.js';
import { Scheduler } from '../../src/master/scheduler.js';
import { SweepIncompleteError, WorkerUnavailableError, type Worker } from '../../src/master/worker.js';
import type { AttrPath } from '../../src/nix/syntax.js';
import { chunkPaths, chunkSize, type ChunkAnswer, type SweepAnswer, type WorkChunk } from '../../src/work.js';

beforeEach(() => {
  vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
});
afterEach(() => {
  vi.useRealTimers();
});

/** What the fake evaluator finds at each attribute path. */
type Tree = (path: AttrPath) => WorkResult;

const derivation = (path: AttrPath): DerivationEvent => {
  const attr = path.join('.');
  return { attr, attrPath: [...path], name: attr, system: 'x86_64-linux', drvPath: `/nix/store/${attr}.drv`, outputs: {}, requiredSystemFeatures: [] };
};
const names = (prefix: string, count: number): string[] => Array.from({ length: count }, (_, i) => `${prefix}${i}`);

/** The root is a set of `count` derivations named d0, d1, ... */
function flatTree(count: number): Tree {
  return (path) => (path.length === 0 ? { attr: '', attrPath: [], attrs: names('d', count) } : derivation(path));
}

/** The root is a set of `sets` sets s0, s1, ...; each holds derivations d0, d1, d2 and a set n of derivations e0, e1. */
function nestedTree(sets: number): Tree {
  return (path) => {
    const attr = path.join('.');
    if (path.length === 0) return { attr, attrPath: [], attrs: names('s', sets) };
    if (path.length === 1) return { attr, attrPath: [...path], attrs: ['d0', 'd1', 'd2', 'n'] };
    if (path.length === 2 && path[1] === 'n') return { attr, attrPath: [...path], attrs: ['e0', 'e1'] };
    return derivation(path);
  };
}

/** Every attribute of a tree, dotted, walking it the way evix does. */
function attributesOf(tree: Tree): string[] {
  const found: string[] = [];
  const walk = (path: AttrPath): void => {
    found.push(path.join('.'));
    const result = tree(path);
    if (isAttrsetEvent(result)) for (const name of result.attrs) walk([...path, name]);
  };
  walk([]);
  return found.sort();
}

interface Call {
  readonly chunk: WorkChunk;
  readonly budget: number;
  readonly sentAt: number;
  /** Attributes still queued once the chunk was taken. */
  readonly queued: number;
  answeredAt?: number;
  answer?: ChunkAnswer;
}

interface FakeWorkerOptions {
  maxCapacity: number;
  tree: Tree;
  /** Fake ms each result takes to evaluate; none by default. */
  costMs?: (path: AttrPath) => number;
  /** Answers the children of a set of the chunk itself while the answer stays within the budget. */
  walks?: boolean;
}

/**
 * A worker with one evaluator that answers its chunks in turn, each after
 * the summed cost of its results, as the evaluator behind a real worker does.
 * When a chunk fails, the evaluator stays failed: every chunk after it fails
 * with the same error, until reconnect() for one whose connection was lost.
 */
class FakeWorker implements Worker {
  readonly systems = undefined;
  startsOnDemand = false;
  readonly id: string;
  readonly maxCapacity: number;
  readonly calls: Call[] = [];
  /** Dotted paths of every result answered, in order. */
  readonly evaluated: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  closed = false;
  /** Decides whether the evaluator fails when it comes to `chunk`. */
  failWith: ((chunk: WorkChunk) => Error | undefined) | undefined;
  recover: (() => Promise<boolean>) | undefined;
  /** The scheduler of the walk it is in, read for what is still queued as each chunk comes. */
  scheduler: Scheduler | undefined;
  readonly #tree: Tree;
  readonly #costMs: (path: AttrPath) => number;
  readonly #walks: boolean;
  #failed: Error | undefined;
  #previous: Promise<unknown> = Promise.resolve();

  constructor(id: string, options: FakeWorkerOptions) {
    this.id = id;
    this.maxCapacity = options.maxCapacity;
    this.#tree = options.tree;
    this.#costMs = options.costMs ?? (() => 0);
    this.#walks = options.walks ?? false;
  }

  async setup(): Promise<void> {}

  evaluate(chunk: WorkChunk, budget: number): Promise<ChunkAnswer> {
    const call: Call = { chunk, budget, sentAt: performance.now(), queued: this.scheduler?.queued ?? 0 };
    this.calls.push(call);
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    const answered = this.#previous.then(() => this.#answer(call));
    this.#previous = answered.catch(() => {});
    return answered.finally(() => this.inFlight--);
  }

  /** The evaluator can take work again after its connection was lost. */
  reconnect(): void {
    this.#failed = undefined;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  async #answer(call: Call): Promise<ChunkAnswer> {
    if (this.#failed) throw this.#failed;
    const answer: ChunkAnswer = chunkPaths(call.chunk).map(this.#tree);
    if (this.#walks) {
      for (let i = 0, asked = answer.length; i < asked; i++) {
        const result = answer[i]!;
        if (!isAttrsetEvent(result) || answer.length + result.attrs.length > call.budget) continue;
        answer[i] = { ...result, childrenAnswered: true };
        for (const name of result.attrs) answer.push(this.#tree([...result.attrPath, name]));
      }
    }
    let cost = 0;
    for (const result of answer) cost += this.#costMs(result.attrPath);
    await new Promise((resolve) => setTimeout(resolve, cost));
    this.#failed = this.failWith?.(call.chunk);
    if (this.#failed) throw this.#failed;
    call.answeredAt = performance.now();
    call.answer = answer;
    for (const result of answer) this.evaluated.push(result.attrPath.join('.'));
    return answer;
  }
}

interface DispatchOptions {
  consumerReady?: () => Promise<void> | undefined;
  admitEvaluator?: () => boolean;
  onEvent?: (event: EvalEvent) => void;
}

/** Starts a walk over `workers`; run the fake clock to move it on. */
function startDispatch(workers: FakeWorker[], options: DispatchOptions = {}) {
  const scheduler = new Scheduler();
  for (const worker of workers) {
    scheduler.addWorker(worker.id, worker.systems);
    worker.scheduler = scheduler;
  }
  const events: EvalEvent[] = [];
  const dispatcher = new Dispatcher({
    scheduler,
    workers,
    log: silentLogger,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
    ...(options.consumerReady ? { consumerReady: options.consumerReady } : {}),
    ...(options.admitEvaluator ? { admitEvaluator: options.admitEvaluator } : {}),
  });
  const walk = { scheduler, events, ended: false };
  void dispatcher.run().then(() => (walk.ended = true));
  return walk;
}

/** Runs the fake clock until nothing is left to happen; the walk must have ended by then. */
async function runToEnd(walk: { ended: boolean }): Promise<void> {
  await vi.runAllTimersAsync();
  expect(walk.ended, 'the walk ended').toBe(true);
}

async function dispatch(workers: FakeWorker[], options: DispatchOptions = {}) {
  const walk = startDispatch(workers, options);
  await runToEnd(walk);
  return walk;
}

/** Children of the answer's sets that the worker did not walk into. */
const unwalkedChildren = (answer: ChunkAnswer): number =>
  answer.reduce((children, result) => children + (isAttrsetEvent(result) && !result.childrenAnswered ? result.attrs.length : 0), 0);
const derivationCount = (events: EvalEvent[]) => events.filter((e) => 'drvPath' in e).length;
const attrsOfEvents = (events: EvalEvent[]) => events.map((e) => e.attr).sort();
const childChunks = (worker: FakeWorker) => worker.calls.filter((call) => call.chunk.some((unit) => unit.kind === 'siblings'));

test('every attribute is evaluated once and the walk ends when nothing is left', async () => {
  const tree = flatTree(100);
  const a = new FakeWorker('a', { maxCapacity: 4, tree });
  const b = new FakeWorker('b', { maxCapacity: 4, tree });
  const { events, scheduler } = await dispatch([a, b]);
  expect(derivationCount(events)).toBe(100);
  expect([...a.evaluated, ...b.evaluated].sort()).toEqual(attributesOf(tree));
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
  expect(scheduler.stats).toMatchObject({ queued: 0, busy: 0, completed: 101 });
});

test('slow items go one at a time to each worker, spread over every worker', async () => {
  const itemMs = 15;
  const tree = flatTree(6);
  const workers = ['a', 'b', 'c'].map((id) => new FakeWorker(id, { maxCapacity: 4, tree, costMs: () => itemMs }));
  const started = performance.now();
  const { events } = await dispatch(workers);
  expect(derivationCount(events)).toBe(6);
  for (const worker of workers) {
    expect(worker.maxInFlight).toBe(1);
    expect(childChunks(worker).map((call) => chunkSize(call.chunk))).toEqual([1, 1]);
  }
  // The root, then two rounds of three items side by side.
  expect(performance.now() - started).toBe(3 * itemMs);
});

test('no chunk takes more than its share of what is queued, so every worker gets work to the end', async () => {
  const tree = flatTree(4000);
  const workers = ['a', 'b', 'c', 'd'].map((id) => new FakeWorker(id, { maxCapacity: 4, tree }));
  const { events } = await dispatch(workers);
  expect(derivationCount(events)).toBe(4000);
  const calls = workers.flatMap((worker) => worker.calls);
  for (const { chunk, queued } of calls) expect(chunkSize(chunk)).toBeLessThanOrEqual(Math.ceil((queued + chunkSize(chunk)) / workers.length));
  // Some chunks were cut below their budget with attributes still queued: by their share.
  expect(calls.some(({ chunk, budget, queued }) => chunkSize(chunk) < budget && queued > 0)).toBe(true);
  for (const worker of workers) expect(childChunks(worker).length).toBeGreaterThan(0);
});

test('cheap items are pipelined up to the worker maxCapacity, never past it', async () => {
  const a = new FakeWorker('a', { maxCapacity: 3, tree: flatTree(200) });
  await dispatch([a]);
  expect(a.maxInFlight).toBe(3);
});

test('a worker’s chunks grow as its answers come fast: the budget grows GROWTH-fold from one to MAX_CHUNK_RESULTS', async () => {
  const a = new FakeWorker('a', { maxCapacity: 2, tree: flatTree(20_000) });
  const { events } = await dispatch([a]);
  expect(derivationCount(events)).toBe(20_000);
  const budgets = a.calls.map((call) => call.budget);
  expect(budgets[0]).toBe(1);
  for (let i = 1; i < budgets.length; i++) expect(budgets[i]).toBeLessThanOrEqual(GROWTH * Math.max(...budgets.slice(0, i)));
  expect(Math.max(...budgets)).toBe(MAX_CHUNK_RESULTS);
  for (const call of a.calls) expect(chunkSize(call.chunk)).toBeLessThanOrEqual(call.budget);
  expect(Math.max(...a.calls.map((call) => chunkSize(call.chunk)))).toBeGreaterThan(MAX_CHUNK_RESULTS / 2);
});

test('each chunk is sent with the budget its worker’s pace gives, the pace fed with every answer', async () => {
  const maxCapacity = 2;
  const a = new FakeWorker('a', { maxCapacity, tree: nestedTree(60), walks: true, costMs: (path) => 1 + (path.length % 3) });
  await dispatch([a]);
  // Replays the worker's sends and answers in time order on a pace of its own (an answer before a send at the same time: the send follows from it).
  const steps = a.calls.flatMap((call) => [
    { at: call.sentAt, sent: true, call },
    { at: call.answeredAt!, sent: false, call },
  ]);
  steps.sort((x, y) => x.at - y.at || Number(x.sent) - Number(y.sent));
  const pace = new ChunkPace(maxCapacity);
  for (const { sent, call } of steps) {
    if (!sent) {
      pace.answered(call.sentAt, call.answeredAt!, chunkSize(call.chunk), call.answer!.length, unwalkedChildren(call.answer!));
      continue;
    }
    expect(call.budget).toBe(pace.budget);
    const size = chunkSize(call.chunk);
    // As many attributes as the pace asks for, unless the queue ran out.
    if (call.queued > 0) expect(size).toBe(pace.attributes);
    else expect(size).toBeLessThanOrEqual(pace.attributes);
  }
  // Not a trivial run: the worker walked into sets, and the budget moved.
  expect(a.calls.some((call) => call.answer!.length > chunkSize(call.chunk))).toBe(true);
  expect(new Set(a.calls.map((call) => call.budget)).size).toBeGreaterThan(3);
});

test('children a worker answered with their set are not handed out again; every attribute is emitted once', async () => {
  const tree = nestedTree(40);
  const a = new FakeWorker('a', { maxCapacity: 4, tree, walks: true, costMs: () => 1 });
  const b = new FakeWorker('b', { maxCapacity: 4, tree, walks: true, costMs: () => 1 });
  const { events } = await dispatch([a, b]);
  const calls = [...a.calls, ...b.calls];
  expect(calls.some((call) => call.answer!.length > chunkSize(call.chunk))).toBe(true);
  expect([...a.evaluated, ...b.evaluated].sort()).toEqual(attributesOf(tree));
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
  for (const event of events) expect(event).not.toHaveProperty('childrenAnswered');
});

test('a full consumer stops new work until it is ready again; nothing is lost', async () => {
  const a = new FakeWorker('a', { maxCapacity: 4, tree: flatTree(500), costMs: () => 1 });
  let delivered = 0;
  let released = false;
  let full: PromiseWithResolvers<void> | undefined;
  let callsWhenFull = 0;
  let heldWhenFull = 0;
  let deliveredWhenFull = 0;
  const walk = startDispatch([a], {
    onEvent: () => delivered++,
    consumerReady: () => {
      if (delivered < 50 || released) return undefined;
      if (!full) {
        full = Promise.withResolvers<void>();
        callsWhenFull = a.calls.length;
        heldWhenFull = walk.scheduler.stats.busy;
        deliveredWhenFull = delivered;
      }
      return full.promise;
    },
  });
  await vi.runAllTimersAsync();
  expect(full).toBeDefined();
  // Only what the worker already held when the consumer filled up was finished meanwhile.
  expect(a.calls.length).toBe(callsWhenFull);
  expect(a.inFlight).toBe(0);
  expect(delivered - deliveredWhenFull).toBe(heldWhenFull);
  expect(walk.ended).toBe(false);
  released = true;
  full!.resolve();
  await runToEnd(walk);
  expect(derivationCount(walk.events)).toBe(500);
});

test('a worker whose connection is lost hands its chunks back and takes work again once recovered; the lost chunk is evaluated whole', async () => {
  const tree = flatTree(200);
  const a = new FakeWorker('a', { maxCapacity: 4, tree, costMs: () => 1 });
  const b = new FakeWorker('b', { maxCapacity: 4, tree, costMs: () => 1 });
  let lost: WorkChunk | undefined;
  b.failWith = (chunk) => {
    if (lost || chunkSize(chunk) < 2) return undefined;
    lost = chunk;
    return new WorkerUnavailableError('connection lost');
  };
  let recoveries = 0;
  b.recover = async () => {
    recoveries++;
    await new Promise((resolve) => setTimeout(resolve, 5));
    b.reconnect();
    return true;
  };
  const { events } = await dispatch([a, b]);
  expect(recoveries).toBe(1);
  expect(lost).toBeDefined();
  const lostAt = b.calls.findIndex((call) => call.chunk === lost);
  expect(b.calls.slice(lostAt + 1).some((call) => call.answer !== undefined)).toBe(true);
  const answered = [...a.calls, ...b.calls].filter((call) => call.answer !== undefined).map((call) => call.chunk);
  expect(answered).toContainEqual(lost);
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
});

test('a worker that fails for good leaves the run; the others finish the chunks it held', async () => {
  const tree = flatTree(200);
  const a = new FakeWorker('a', { maxCapacity: 4, tree, costMs: () => 1 });
  const b = new FakeWorker('b', { maxCapacity: 4, tree, costMs: () => 1 });
  let chunks = 0;
  b.failWith = () => (++chunks === 2 ? new Error('evaluator gone') : undefined);
  const { events, scheduler } = await dispatch([a, b]);
  expect(b.calls.length).toBeGreaterThan(2); // it held chunks behind the one that failed
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
  expect(b.closed).toBe(true);
  expect(scheduler.stats.workers).toBe(1);
  expect(scheduler.fatal).toBeUndefined();
});

test('a worker that answers fewer attributes than its chunk named leaves the run; nothing is lost', async () => {
  const tree = flatTree(200);
  const a = new FakeWorker('a', { maxCapacity: 2, tree, costMs: () => 1 });
  /** Drops the last result of its second chunk, as a broken or hostile remote could. */
  class ShortWorker extends FakeWorker {
    answers = 0;
    override async evaluate(chunk: WorkChunk, budget: number): Promise<ChunkAnswer> {
      const answer = await super.evaluate(chunk, budget);
      return ++this.answers === 2 ? answer.slice(0, -1) : answer;
    }
  }
  const short = new ShortWorker('short', { maxCapacity: 2, tree, costMs: () => 1 });
  const { events, scheduler } = await dispatch([a, short]);
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
  expect(short.closed).toBe(true);
  expect(scheduler.stats.workers).toBe(1);
});

test('when the last worker fails the run fails, saying which worker and why', async () => {
  const a = new FakeWorker('a', { maxCapacity: 4, tree: flatTree(10) });
  a.failWith = (chunk) => (chunk.some((unit) => unit.kind === 'siblings') ? new Error('evaluator gone') : undefined);
  const { scheduler } = await dispatch([a]);
  expect(scheduler.fatal).toEqual({ kind: 'workers', message: 'no worker is left to evaluate the remaining attributes (a: evaluator gone)' });
});

test('the walk ends without waiting for a worker still recovering', async () => {
  const tree = flatTree(30);
  const a = new FakeWorker('a', { maxCapacity: 4, tree, costMs: () => 1 });
  const b = new FakeWorker('b', { maxCapacity: 4, tree, costMs: () => 1 });
  b.failWith = () => new WorkerUnavailableError('connection lost');
  b.recover = () => new Promise<boolean>(() => {});
  const { events } = await dispatch([a, b]);
  expect(b.calls.length).toBeGreaterThan(0);
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
});

test('workers that start on demand get work only while the started ones leave some, one more per turn', async () => {
  const small = flatTree(3);
  const first = new FakeWorker('first', { maxCapacity: 2, tree: small, costMs: () => 5 });
  const spares = Array.from({ length: 8 }, (_, i) => Object.assign(new FakeWorker(`spare-${i}`, { maxCapacity: 2, tree: small, costMs: () => 5 }), { startsOnDemand: true }));
  const { events } = await dispatch([first, ...spares]);
  expect(attrsOfEvents(events)).toEqual(attributesOf(small));
  // The root goes to the started worker; three attributes need at most three evaluators.
  expect([first, ...spares].filter((w) => w.calls.length > 0).length).toBeLessThanOrEqual(3);
  expect(spares.slice(3).every((w) => w.calls.length === 0)).toBe(true);

  // Work for all: still one more evaluator per turn, not every one at once.
  const forty = flatTree(40);
  const lead = new FakeWorker('lead', { maxCapacity: 2, tree: forty, costMs: () => 5 });
  const waiting = Array.from({ length: 8 }, (_, i) => Object.assign(new FakeWorker(`w-${i}`, { maxCapacity: 2, tree: forty, costMs: () => 5 }), { startsOnDemand: true }));
  await dispatch([lead, ...waiting]);
  const rootAnswered = lead.calls[0]!.answeredAt;
  const startedThen = [lead, ...waiting].filter((w) => w.calls.some((call) => call.sentAt === rootAnswered));
  expect(startedThen.length).toBeLessThanOrEqual(2);

  const big = flatTree(2000);
  const busy = new FakeWorker('busy', { maxCapacity: 2, tree: big, costMs: () => 1 });
  const onDemand = Array.from({ length: 3 }, (_, i) => Object.assign(new FakeWorker(`d-${i}`, { maxCapacity: 2, tree: big, costMs: () => 1 }), { startsOnDemand: true }));
  await dispatch([busy, ...onDemand]);
  expect(onDemand.every((w) => w.calls.length > 0)).toBe(true);
});

test('an evaluator starts only once work has waited START_EVALUATOR_AFTER_MS for the started ones', async () => {
  // 40 cheap attributes: done before the wait is over, so no second evaluator.
  const quick = flatTree(40);
  const lead = new FakeWorker('lead', { maxCapacity: 2, tree: quick, costMs: () => 1 });
  const spare = Object.assign(new FakeWorker('spare', { maxCapacity: 2, tree: quick, costMs: () => 1 }), { startsOnDemand: true });
  await dispatch([lead, spare]);
  expect(spare.calls).toHaveLength(0);

  // A long run: the spare starts, but not before work has waited that long.
  const long = flatTree(3000);
  const first = new FakeWorker('first', { maxCapacity: 2, tree: long, costMs: () => 1 });
  const second = Object.assign(new FakeWorker('second', { maxCapacity: 2, tree: long, costMs: () => 1 }), { startsOnDemand: true });
  await dispatch([first, second]);
  expect(second.calls.length).toBeGreaterThan(0);
  expect(second.calls[0]!.sentAt - first.calls[0]!.answeredAt!).toBeGreaterThanOrEqual(START_EVALUATOR_AFTER_MS);
});

test('no worker starts on demand while the run admits no evaluator', async () => {
  const tree = flatTree(500);
  const started = new FakeWorker('started', { maxCapacity: 2, tree, costMs: () => 1 });
  const spare = Object.assign(new FakeWorker('spare', { maxCapacity: 2, tree, costMs: () => 1 }), { startsOnDemand: true });
  const { events } = await dispatch([started, spare], { admitEvaluator: () => false });
  expect(attrsOfEvents(events)).toEqual(attributesOf(tree));
  expect(spare.calls).toHaveLength(0);
});

test('a fatal outcome ends the walk at once', async () => {
  const a = new FakeWorker('a', { maxCapacity: 4, tree: () => ({ attr: '', attrPath: [], error: 'syntax error', fatal: false }) });
  const { events, scheduler } = await dispatch([a]);
  expect(scheduler.fatal).toEqual({ kind: 'input', message: 'syntax error' });
  expect(events).toEqual([{ attr: '', attrPath: [], error: 'syntax error', fatal: true }]);
});

/**
 * A FakeWorker that also sweeps: it answers a sweep's chunk with everything
 * under it, delivering the first half of the results as it goes; told to,
 * it fails once after delivering, leaving the other half.
 */
class SweepingWorker extends FakeWorker {
  readonly sweeps: WorkChunk[] = [];
  failAfterDelivering = false;
  readonly #walkTree: Tree;

  constructor(id: string, options: FakeWorkerOptions) {
    super(id, options);
    this.#walkTree = options.tree;
  }

  async sweep(chunk: WorkChunk, deliver: (results: ChunkAnswer) => Promise<void> | undefined): Promise<SweepAnswer> {
    this.sweeps.push(chunk);
    await new Promise((resolve) => setTimeout(resolve, 1));
    const all: ChunkAnswer = [];
    const walk = (path: AttrPath): void => {
      const result = this.#walkTree(path);
      all.push(isAttrsetEvent(result) ? { ...result, childrenAnswered: true } : result);
      if (isAttrsetEvent(result)) for (const name of result.attrs) walk([...path, name]);
    };
    const top: AttrPath[] = [];
    for (const unit of chunk) {
      if (unit.kind !== 'part') {
        top.push(...chunkPaths([unit]));
        continue;
      }
      // A part of a root: part 0 answers the root; each part every parts-th child.
      const root = this.#walkTree(unit.path);
      if (unit.part === 0) all.push(isAttrsetEvent(root) ? { ...root, childrenAnswered: true } : root);
      if (isAttrsetEvent(root)) root.attrs.forEach((name, i) => i % unit.parts === unit.part && top.push([...unit.path, name]));
    }
    for (const path of top) walk(path);
    const half = Math.floor(top.length / 2);
    const delivered = all.filter((r) => top.slice(0, half).some((p) => p.join('.') === r.attrPath.slice(0, p.length).join('.')));
    deliver(delivered);
    for (const result of delivered) this.evaluated.push(result.attrPath.join('.'));
    if (this.failAfterDelivering) {
      this.failAfterDelivering = false;
      throw new SweepIncompleteError('its evaluator went away', top.slice(half));
    }
    const rest = all.filter((r) => !delivered.includes(r));
    for (const result of rest) this.evaluated.push(result.attrPath.join('.'));
    // The last top attribute is left to chunks, as a sweep leaves one that failed.
    const last = top.length > 1 ? top.at(-1)! : undefined;
    if (!last) return { results: rest, left: [] };
    const under = (r: WorkResult) => r.attrPath.slice(0, last.length).join('.') === last.join('.');
    const siblings = this.#walkTree(last.slice(0, -1));
    const index = isAttrsetEvent(siblings) ? siblings.attrs.indexOf(last.at(-1)!) : -1;
    return { results: rest.filter((r) => !under(r)), left: [{ kind: 'siblings', parent: last.slice(0, -1), from: index, names: [last.at(-1)!] }] };
  }
}

test('when every worker sweeps, the walk starts as one sweep per worker, each a part of the root', async () => {
  const tree = nestedTree(1000);
  const workers = [new SweepingWorker('a', { maxCapacity: 2, tree }), new SweepingWorker('b', { maxCapacity: 2, tree }), new SweepingWorker('c', { maxCapacity: 2, tree })];
  const walk = await dispatch(workers);
  expect(workers.map((w) => w.sweeps)).toEqual([0, 1, 2].map((part) => [[{ kind: 'part', path: [], part, parts: 3 }]]));
  // What each sweep left (its last attribute) went out again as chunks.
  const chunked = workers.flatMap((w) => w.calls.flatMap((call) => chunkPaths(call.chunk).map((p) => p.join('.'))));
  expect(chunked.filter((attr) => !attr.includes('.')).sort()).toEqual(['s997', 's998', 's999']);
  const attrs = walk.events.map((e) => e.attr).sort();
  expect(attrs).toEqual(attributesOf(tree));
  expect(new Set(attrs).size).toBe(attrs.length);
});

test('a set of cheap attributes found at once is swept: each worker takes half of it in one sweep', async () => {
  const tree = flatTree(10_000);
  // A worker that does not sweep keeps the walk from starting in parts; it takes chunks of its share.
  const workers = [new SweepingWorker('a', { maxCapacity: 2, tree }), new SweepingWorker('b', { maxCapacity: 2, tree }), new FakeWorker('remote', { maxCapacity: 2, tree })];
  const walk = await dispatch(workers);
  expect(workers.slice(0, 2).map((w) => (w as SweepingWorker).sweeps.map(chunkSize))).toEqual([[3334], [3334]]);
  expect(walk.events.map((e) => e.attr).sort()).toEqual(attributesOf(tree));
});

test('a worker that does not sweep (a remote) takes chunks of its share while the other sweeps', async () => {
  const tree = flatTree(10_000);
  const sweeper = new SweepingWorker('local', { maxCapacity: 2, tree });
  const remote = new FakeWorker('remote', { maxCapacity: 2, tree });
  const walk = await dispatch([sweeper, remote]);
  expect(sweeper.sweeps.map(chunkSize)).toEqual([5000]);
  expect(remote.calls.length).toBeGreaterThan(1);
  expect(walk.events.map((e) => e.attr).sort()).toEqual(attributesOf(tree));
});

test('a small set is answered in chunks, not swept', async () => {
  const tree = flatTree(100);
  const sweeper = new SweepingWorker('a', { maxCapacity: 2, tree });
  const walk = await dispatch([sweeper, new FakeWorker('remote', { maxCapacity: 2, tree })]);
  expect(sweeper.sweeps).toEqual([]);
  expect(walk.events.map((e) => e.attr).sort()).toEqual(attributesOf(tree));
});

test('a sweep that fails after delivering: what it delivered stands, what it left is evaluated once elsewhere', async () => {
  const tree = nestedTree(4000);
  const a = new SweepingWorker('a', { maxCapacity: 2, tree });
  const b = new FakeWorker('b', { maxCapacity: 2, tree });
  a.failAfterDelivering = true;
  const walk = await dispatch([a, b]);
  const attrs = walk.events.map((e) => e.attr).sort();
  expect(attrs).toEqual(attributesOf(tree));
  expect(new Set(attrs).size).toBe(attrs.length);
});
