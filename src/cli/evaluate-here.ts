/**
 * An evaluation run in this process for a command line (`evix eval`, the
 * nix-eval-jobs drop-in): events to stdout in the chosen line format, logs
 * and the progress line to stderr, interrupted by SIGINT/SIGTERM. The
 * command reports the result.
 */
import { awaitedLater } from '../awaited-later.js';
import type { EvalConfig } from '../config.js';
import type { EvaluateOptions, RemoteSpec } from '../evaluate.js';
import type { Logger } from '../log.js';
import type { RunResult, RunSnapshot } from '../master/run.js';
import { prepareRun } from '../prepare.js';
import type { RemoteTls } from '../remote/options.js';
import type { NdjsonSink } from '../sinks/ndjson.js';
import { Progress } from './progress.js';
import { runWithSignals } from './signals.js';

export interface HereOptions {
  workers: number;
  remotes?: RemoteSpec[];
  remoteToken?: Buffer | undefined;
  remoteTls?: RemoteTls | undefined;
  out: NdjsonSink;
  /** A promise while the logging module loads: the run's Nix commands start first. */
  log: Logger | Promise<Logger>;
  /** Draw the progress line when stderr is a terminal. */
  progress: boolean;
  gcRootsDir?: string | undefined;
  checkCacheStatus: boolean;
  constituents: boolean;
  evalCache?: { directory: string; refresh: boolean } | undefined;
  /** Sees every event too (the drop-in echoes errors on stderr). */
  onEvent?: EvaluateOptions['onEvent'];
}

export async function evaluateHere(config: EvalConfig, options: HereOptions): Promise<RunResult> {
  // Nix starts first and the rest of evix loads meanwhile (see src/prepare.ts).
  const prepared = awaitedLater(prepareRun(config, options.evalCache !== undefined));
  const [{ evaluate }, log] = await Promise.all([import('../evaluate.js'), options.log]);
  const { out, onEvent } = options;
  const progress = options.progress && Progress.wanted(process.stderr, false) ? new Progress(process.stderr) : undefined;
  // Output to the progress line's terminal would start after its text; to a pipe or a file it needs nothing.
  if (progress && process.stdout.isTTY) out.writeThrough(progress.aside);
  try {
    return await runWithSignals((signal) =>
      evaluate(config, {
        workers: options.workers,
        remotes: options.remotes ?? [],
        remoteToken: options.remoteToken,
        ...(options.remoteTls ? { remoteTls: options.remoteTls } : {}),
        onEvent: onEvent
          ? (event) => {
              out.write(event);
              onEvent(event);
            }
          : out.write,
        consumerReady: out.ready,
        checkCacheStatus: options.checkCacheStatus,
        constituents: options.constituents,
        ...(options.evalCache ? { evalCache: options.evalCache } : {}),
        prepared,
        log,
        signal,
        ...(progress ? { observe: (snapshot: () => RunSnapshot) => progress.watch(snapshot) } : {}),
        ...(options.gcRootsDir ? { gcRootsDir: options.gcRootsDir } : {}),
      }),
    );
  } finally {
    progress?.stop();
    out.flush();
  }
}
