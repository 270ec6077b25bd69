/**
 * One evaluation from start to end: resolve the input, start local workers,
 * walk the tree, hand every event to the caller and to the GC-roots sink.
 */
import type { EvalConfig } from './config.js';
import { isDerivationEvent, type EvalEvent } from './events.js';
import { silentLogger, type Logger } from './log.js';
import { runEvaluation, type RunResult } from './master/run.js';
import type { Worker } from './master/worker.js';
import { resolveConfig } from './resolve.js';
import { GcRootsSink } from './sinks/gc-roots.js';
import { LocalWorker } from './worker/local-worker.js';

export interface EvaluateOptions {
  /** Local workers, each with its own nix evaluator. */
  workers: number;
  onEvent: (event: EvalEvent) => void;
  log?: Logger;
  gcRootsDir?: string;
  signal?: AbortSignal;
  /** Called with the local workers once created (tests use it to reach their children). */
  onWorkers?: (workers: readonly LocalWorker[]) => void;
}

export async function evaluate(config: EvalConfig, options: EvaluateOptions): Promise<RunResult> {
  const log = options.log ?? silentLogger;
  const workerConfig = await resolveConfig(config);
  const gcRoots = options.gcRootsDir === undefined ? undefined : new GcRootsSink(options.gcRootsDir, log);
  await gcRoots?.open();
  const workers = Array.from({ length: options.workers }, (_, i) => new LocalWorker(`local-${i}`, log));
  options.onWorkers?.(workers);
  const result = await runEvaluation({
    workers: workers satisfies Worker[],
    config: workerConfig,
    log,
    signal: options.signal,
    onEvent: (event) => {
      options.onEvent(event);
      if (gcRoots && isDerivationEvent(event)) gcRoots.add(event.drvPath);
    },
  });
  const failedRoots = (await gcRoots?.drain()) ?? 0;
  if (failedRoots > 0 && result.fatal === undefined) return { ...result, fatal: `${failedRoots} gc roots could not be added` };
  return result;
}
