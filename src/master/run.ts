/**
 * Drives workers against the scheduler: each worker loops taking the next
 * eligible item, evaluating it and reporting the result, until the scheduler
 * says the walk is over. Events go to the caller as they come.
 */
import type { WorkerConfig } from '../config.js';
import { isErrorEvent, type EvalEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { AttrPath } from '../nix/syntax.js';
import { Scheduler } from './scheduler.js';
import { WorkerUnavailableError, type Worker } from './worker.js';

export interface RunOptions {
  workers: readonly Worker[];
  config: WorkerConfig;
  onEvent: (event: EvalEvent) => void;
  log: Logger;
  /** Where the walk starts: the root by default; several paths re-walk parts of a tree. */
  roots?: AttrPath[];
  /** Stops handing out work; what is in flight is dropped. */
  signal?: AbortSignal;
  /** Receives, once the workers are set up, a way to look at the run's progress. */
  observe?: (snapshot: () => RunSnapshot) => void;
}

export interface RunSnapshot {
  completed: number;
  queued: number;
  errors: number;
  workers: number;
  busyWorkers: number;
}

export interface RunResult {
  /** Set when the run ended early with a fatal error. */
  fatal?: string;
  /** Attribute paths answered. */
  completed: number;
}

export async function runEvaluation(options: RunOptions): Promise<RunResult> {
  const { workers, log, onEvent, signal } = options;
  const scheduler = new Scheduler(options.roots ?? [[]]);
  const change = new ChangeSignal();
  // On abort, closing the workers ends their evaluators, so what is in flight
  // fails fast and no nix process outlives the run.
  const stop = () => {
    change.notify();
    for (const worker of workers) void worker.close().catch(() => {});
  };
  signal?.addEventListener('abort', stop);

  const setupErrors: string[] = [];
  const ready = await Promise.all(
    workers.map(async (worker) => {
      try {
        await worker.setup(options.config);
        return worker;
      } catch (error) {
        setupErrors.push((error as Error).message);
        log.warn({ worker: worker.id, err: (error as Error).message }, 'worker setup failed');
        await worker.close().catch(() => {});
        return undefined;
      }
    }),
  );
  const active = ready.filter((w): w is Worker => w !== undefined);
  if (active.length === 0) {
    signal?.removeEventListener('abort', stop);
    return { fatal: setupErrors[0] ?? 'no workers to evaluate with', completed: 0 };
  }
  for (const worker of active) scheduler.addWorker(worker.id, worker.systems);
  let errorCount = 0;
  options.observe?.(() => {
    const { completed, queued, workers: count, busyWorkers } = scheduler.stats;
    return { completed, queued, errors: errorCount, workers: count, busyWorkers };
  });

  const failed = new Set<Worker>();
  const finished = new Promise<'finished'>((resolve) => {
    const check = () => (scheduler.done || signal?.aborted ? resolve('finished') : void change.wait().then(check));
    check();
  });
  // One loop per slot: slot i of a worker takes items only while the
  // worker's capacity is above i.
  const loop = async (worker: Worker, slot: number): Promise<void> => {
    while (!scheduler.done && !signal?.aborted && !failed.has(worker)) {
      const item = slot < worker.capacity ? scheduler.next(worker.id) : undefined;
      if (!item) {
        await change.wait();
        continue;
      }
      let result;
      try {
        result = await worker.evaluate(item.path);
      } catch (error) {
        if (signal?.aborted || failed.has(worker)) return;
        scheduler.fail(worker.id, item);
        change.notify();
        if (error instanceof WorkerUnavailableError && worker.recover) {
          log.warn({ worker: worker.id, err: error.message }, 'worker unavailable; its items go back on the queue');
          // The others may finish the walk meanwhile; then stop waiting for this one.
          const recovered = await Promise.race([worker.recover(), finished]);
          if (recovered === 'finished') return;
          if (recovered) continue;
        }
        if (failed.has(worker)) return;
        failed.add(worker);
        log.warn({ worker: worker.id, err: (error as Error).message }, 'worker failed; its items go back on the queue');
        scheduler.removeWorker(worker.id);
        change.notify();
        return;
      }
      const outcome = scheduler.complete(worker.id, item, result);
      if (isErrorEvent(result)) errorCount++;
      if (outcome.kind === 'event') onEvent(outcome.event);
      else if (outcome.kind === 'fatal' && outcome.event) onEvent(outcome.event);
      change.notify();
    }
  };

  try {
    await Promise.all(active.flatMap((worker) => Array.from({ length: worker.maxCapacity }, (_, slot) => loop(worker, slot))));
  } finally {
    signal?.removeEventListener('abort', stop);
    await Promise.all(active.map((w) => w.close().catch(() => {})));
  }
  const fatal = scheduler.fatal ?? (signal?.aborted ? 'interrupted' : undefined);
  return fatal === undefined ? { completed: scheduler.stats.completed } : { fatal, completed: scheduler.stats.completed };
}

/** Wakes every waiter on the next notify(). */
class ChangeSignal {
  #waiters: Array<() => void> = [];

  wait(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  notify(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const wake of waiters) wake();
  }
}
