/**
 * One walk: set the workers up, let the dispatcher hand out the scheduler's
 * items until the walk is over, close the workers. Events go to the caller
 * as they come; how the run ended comes back as data (RunFailure).
 */
import type { WorkerConfig } from '../config.js';
import type { EvalEvent } from '../events.js';
import { InputError, type RunFailure } from '../failures.js';
import type { Logger } from '../log.js';
import type { AttrPath } from '../nix/syntax.js';
import { Dispatcher } from './dispatcher.js';
import { Scheduler } from './scheduler.js';
import { closeWorker, type Worker } from './worker.js';

export interface RunOptions {
  workers: readonly Worker[];
  config: WorkerConfig;
  onEvent: (event: EvalEvent) => void;
  /** Back-pressure from the consumer of events: see DispatcherOptions.consumerReady. */
  consumerReady?: () => Promise<void> | undefined;
  /** See DispatcherOptions.admitEvaluator. */
  admitEvaluator?: () => boolean;
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
  /** Set when the run ended early. */
  fatal?: RunFailure;
  /** Attribute paths answered. */
  completed: number;
  /** How the local evaluators kept to their memory budget (see MemoryBudget); absent without local workers. */
  memory?: { peakMiB: number; budgetMiB: number; killedForMemory: number };
}

export async function runEvaluation(options: RunOptions): Promise<RunResult> {
  const { workers, log, signal } = options;
  const scheduler = new Scheduler(options.roots ?? [[]]);
  let dispatcher: Dispatcher | undefined;
  // On abort, closing the workers ends their evaluators, so what is in flight
  // fails fast and no nix process outlives the run.
  const stop = () => {
    dispatcher?.stop();
    for (const worker of workers) closeWorker(worker, log);
  };
  signal?.addEventListener('abort', stop);
  try {
    const setup = await setUp(workers, options.config, log);
    if ('failure' in setup) return { fatal: setup.failure, completed: 0 };
    for (const worker of setup.ready) scheduler.addWorker(worker.id, worker.systems);
    options.observe?.(() => {
      const { completed, queued, errors, workers: count, busyWorkers } = scheduler.stats;
      return { completed, queued, errors, workers: count, busyWorkers };
    });
    if (!signal?.aborted) {
      dispatcher = new Dispatcher({ scheduler, workers: setup.ready, onEvent: options.onEvent, consumerReady: options.consumerReady, admitEvaluator: options.admitEvaluator, log });
      await dispatcher.run();
    }
    await Promise.all(setup.ready.map((worker) => closeWorker(worker, log)));
  } finally {
    signal?.removeEventListener('abort', stop);
  }
  const fatal = scheduler.fatal ?? (signal?.aborted ? { kind: 'interrupted', message: 'interrupted' } : undefined);
  return fatal === undefined ? { completed: scheduler.stats.completed } : { fatal, completed: scheduler.stats.completed };
}

/**
 * Sets every worker up; those that fail are closed and left out. Fails the
 * run only when none is ready: as a broken input when a worker said so.
 */
async function setUp(workers: readonly Worker[], config: WorkerConfig, log: Logger): Promise<{ ready: Worker[] } | { failure: RunFailure }> {
  const failures: Error[] = [];
  const ready: Worker[] = [];
  await Promise.all(
    workers.map(async (worker) => {
      try {
        await worker.setup(config);
        ready.push(worker);
      } catch (error) {
        failures.push(error as Error);
        log.warn({ worker: worker.id, err: (error as Error).message }, 'worker setup failed');
        await closeWorker(worker, log);
      }
    }),
  );
  if (ready.length > 0) {
    // Keep the caller's order: the dispatcher tops workers up in it.
    return { ready: workers.filter((w) => ready.includes(w)) };
  }
  const input = failures.find((e) => e instanceof InputError);
  if (input) return { failure: { kind: 'input', message: input.message } };
  return { failure: { kind: 'workers', message: failures[0]?.message ?? 'no workers to evaluate with' } };
}
