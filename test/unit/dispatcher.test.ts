/** The dispatcher driven in-process by fake workers (no Nix): who gets what, when, and what happens on failure. */
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import type { EvalEvent, WorkResult } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import { Dispatcher } from '../../src/master/dispatcher.js';
import { Scheduler } from '../../src/master/scheduler.js';
import { WorkerUnavailableError, type Worker } from '../../src/master/worker.js';
import type { AttrPath } from '../../src/nix/syntax.js';

/** A flat tree: the root is an attrset of `count` derivations named d0, d1, ... */
function flatTree(count: number) {
  return (path: AttrPath): WorkResult => {
    const attr = path.join('.');
    if (path.length === 0) return { attr, attrPath: [], attrs: Array.from({ length: count }, (_, i) => `d${i}`) };
    return { attr, attrPath: [...path], name: attr, system: 'x86_64-linux', drvPath: `/nix/store/${attr}.drv`, outputs: {}, requiredSystemFeatures: [] };
  };
}

class FakeWorker implements Worker {
  readonly systems = undefined;
  readonly evaluated: string[] = [];
  inFlight = 0;
  maxInFlight = 0;
  /** When set, evaluate() rejects with what it returns (once per call). */
  failWith: ((path: AttrPath) => Error | undefined) | undefined;
  recover: (() => Promise<boolean>) | undefined;
  closed = false;

  readonly id: string;
  readonly maxCapacity: number;
  readonly answer: (path: AttrPath) => WorkResult;
  readonly delayMs: (path: AttrPath) => number;

  constructor(id: string, maxCapacity: number, answer: (path: AttrPath) => WorkResult, delayMs: (path: AttrPath) => number = () => 0) {
    this.id = id;
    this.maxCapacity = maxCapacity;
    this.answer = answer;
    this.delayMs = delayMs;
  }

  async setup(): Promise<void> {}

  async evaluate(path: AttrPath): Promise<WorkResult> {
    this.evaluated.push(path.join('.'));
    this.inFlight++;
    this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
    try {
      const delay = this.delayMs(path);
      if (delay > 0) await sleep(delay);
      else await Promise.resolve();
      const failure = this.failWith?.(path);
      if (failure) throw failure;
      return this.answer(path);
    } finally {
      this.inFlight--;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
  }
}

async function dispatch(workers: FakeWorker[], options: { consumerReady?: () => Promise<void> | undefined; onEvent?: (e: EvalEvent) => void } = {}) {
  const scheduler = new Scheduler();
  for (const w of workers) scheduler.addWorker(w.id, w.systems);
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
  });
  await dispatcher.run();
  return { events, scheduler };
}

const derivationCount = (events: EvalEvent[]) => events.filter((e) => 'drvPath' in e).length;

test('every item is evaluated once and the walk ends when the queue is empty', async () => {
  const a = new FakeWorker('a', 4, flatTree(100));
  const b = new FakeWorker('b', 4, flatTree(100));
  const { events, scheduler } = await dispatch([a, b]);
  expect(derivationCount(events)).toBe(100);
  expect([...a.evaluated, ...b.evaluated].sort()).toEqual(['', ...Array.from({ length: 100 }, (_, i) => `d${i}`)].sort());
  expect(scheduler.stats).toMatchObject({ queued: 0, busy: 0, completed: 101 });
});

test('slow items go one at a time to each worker, spread over every worker', async () => {
  const slow = () => 15;
  const workers = [new FakeWorker('a', 4, flatTree(6), slow), new FakeWorker('b', 4, flatTree(6), slow), new FakeWorker('c', 4, flatTree(6), slow)];
  const { events } = await dispatch(workers);
  expect(derivationCount(events)).toBe(6);
  for (const w of workers) {
    expect(w.maxInFlight).toBe(1);
    expect(w.evaluated.filter((p) => p !== '').length).toBe(2);
  }
});

test('cheap items are pipelined up to the worker maxCapacity, never past it', async () => {
  const a = new FakeWorker('a', 3, flatTree(200));
  await dispatch([a]);
  expect(a.maxInFlight).toBe(3);
});

test('a full consumer stops new work until it is ready again; nothing is lost', async () => {
  const a = new FakeWorker('a', 4, flatTree(500));
  let delivered = 0;
  let full: { promise: Promise<void>; resolve: () => void } | undefined;
  let evaluatedWhenFull = -1;
  let released = false;
  const run = dispatch([a], {
    onEvent: () => delivered++,
    consumerReady: () => {
      if (delivered < 50 || released) return undefined;
      if (!full) {
        full = Promise.withResolvers<void>();
        evaluatedWhenFull = a.evaluated.length;
      }
      return full.promise;
    },
  });
  await sleep(50);
  // Only what the worker already held when the consumer filled up was finished meanwhile.
  expect(full).toBeDefined();
  expect(a.evaluated.length).toBe(evaluatedWhenFull);
  expect(a.inFlight).toBe(0);
  released = true;
  full!.resolve();
  const { events } = await run;
  expect(derivationCount(events)).toBe(500);
});

test('a worker whose connection is lost hands its items back and takes work again once recovered', async () => {
  const a = new FakeWorker('a', 4, flatTree(50), () => 1);
  const b = new FakeWorker('b', 4, flatTree(50), () => 1);
  let lost = false;
  b.failWith = (path) => (!lost && path.join('.') === b.evaluated[2] && (lost = true) ? new WorkerUnavailableError('connection lost') : undefined);
  let recoveries = 0;
  b.recover = async () => {
    recoveries++;
    await sleep(5);
    return true;
  };
  const { events } = await dispatch([a, b]);
  expect(recoveries).toBe(1);
  expect(b.evaluated.length).toBeGreaterThan(3);
  expect(derivationCount(events)).toBe(50);
  expect(new Set(events.map((e) => e.attr)).size).toBe(events.length);
});

test('a worker that fails for good leaves the run; the others finish its items', async () => {
  const a = new FakeWorker('a', 4, flatTree(40), () => 1);
  const b = new FakeWorker('b', 4, flatTree(40), () => 1);
  b.failWith = (path) => (path.join('.') === b.evaluated[1] ? new Error('evaluator gone') : undefined);
  const { events, scheduler } = await dispatch([a, b]);
  expect(derivationCount(events)).toBe(40);
  expect(b.closed).toBe(true);
  expect(scheduler.stats.workers).toBe(1);
  expect(scheduler.fatal).toBeUndefined();
});

test('when the last worker fails the run fails, saying which worker and why', async () => {
  const a = new FakeWorker('a', 4, flatTree(10));
  a.failWith = (path) => (path.length > 0 ? new Error('evaluator gone') : undefined);
  const { scheduler } = await dispatch([a]);
  expect(scheduler.fatal).toEqual({ kind: 'workers', message: 'no worker is left to evaluate the remaining attributes (a: evaluator gone)' });
});

test('the walk ends without waiting for a worker still recovering', async () => {
  const a = new FakeWorker('a', 4, flatTree(30), () => 1);
  const b = new FakeWorker('b', 4, flatTree(30), () => 1);
  b.failWith = () => new WorkerUnavailableError('connection lost');
  b.recover = () => new Promise<boolean>(() => {});
  const { events } = await dispatch([a, b]);
  expect(derivationCount(events)).toBe(30);
});

test('a fatal outcome ends the walk at once', async () => {
  const a = new FakeWorker('a', 4, () => ({ attr: '', attrPath: [], error: 'syntax error', fatal: false }));
  const { events, scheduler } = await dispatch([a]);
  expect(scheduler.fatal).toEqual({ kind: 'input', message: 'syntax error' });
  expect(events).toEqual([{ attr: '', attrPath: [], error: 'syntax error', fatal: true }]);
});
