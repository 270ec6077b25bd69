/**
 * One evaluation from start to end: resolve the input, start local and
 * remote workers, walk the tree, hand every event to the caller and to the
 * GC-roots sink.
 */
import { existsSync } from 'node:fs';
import { isEnvironmentalError } from './cache/environmental.js';
import type { CacheIdentity } from './cache/eval-cache.js';
import type { EvalConfig, WorkerConfig } from './config.js';
import type { AttrPath } from './nix/syntax.js';
import { isDerivationEvent, isErrorEvent, type EvalEvent } from './events.js';
import { InputError } from './failures.js';
import { silentLogger, type Logger } from './log.js';
import type { RunResult, RunSnapshot } from './master/run.js';
import type { Worker } from './master/worker.js';
import { prepareRun, type PreparedRun } from './prepare.js';
import type { Endpoint } from './remote/endpoint.js';
import type { RemoteTimeouts, RemoteTls } from './remote/options.js';
import type { LocalWorker } from './worker/local-worker.js';

/** `--remote HOST:PORT SYSTEMS N`: N connections, each a worker owning SYSTEMS (none: any). */
export interface RemoteSpec {
  endpoint: Endpoint;
  systems: string[];
  connections: number;
}

export interface EvaluateOptions {
  /** Local workers, each with its own nix evaluator. */
  workers: number;
  remotes?: RemoteSpec[];
  remoteToken?: Uint8Array | undefined;
  remoteTls?: RemoteTls;
  remoteTimeouts?: Partial<RemoteTimeouts>;
  onEvent: (event: EvalEvent) => void;
  /** Back-pressure: undefined while the consumer takes events, else a promise settled once it takes more. */
  consumerReady?: () => Promise<void> | undefined;
  log?: Logger;
  gcRootsDir?: string;
  /** Add cacheStatus, isCached, neededBuilds and neededSubstitutes to derivations. */
  checkCacheStatus?: boolean;
  /** Resolve aggregates' constituents and rewrite their .drv, as nix-eval-jobs --constituents. */
  constituents?: boolean;
  /** Replay and store walks of hermetic inputs here; `refresh` evaluates anyway and rewrites. */
  evalCache?: { directory: string; refresh: boolean };
  signal?: AbortSignal;
  /** Receives a way to look at the run's progress (the progress display). */
  observe?: (snapshot: () => RunSnapshot) => void;
  /** Called with the local workers once created (tests use it to reach their children). */
  onWorkers?: (workers: readonly LocalWorker[]) => void;
  /** prepareRun(config, evalCache !== undefined), when the caller started it already. */
  prepared?: Promise<PreparedRun>;
}

export async function evaluate(config: EvalConfig, options: EvaluateOptions): Promise<RunResult> {
  const log = options.log ?? silentLogger;
  let prepared: PreparedRun;
  try {
    prepared = await (options.prepared ?? prepareRun(config, options.evalCache !== undefined));
  } catch (error) {
    if (error instanceof InputError) return { fatal: { kind: 'input', message: error.message }, completed: 0 };
    throw error;
  }
  const {
    resolved: { config: workerConfig, pin },
    nix,
  } = prepared;
  // What a run does not use is not loaded: a cache hit starts no evaluator.
  const gcRoots = options.gcRootsDir === undefined ? undefined : new (await import('./sinks/gc-roots.js')).GcRootsSink(options.gcRootsDir, log);
  // Events flow: run -> constituents -> cache status -> the caller and GC roots.
  const deliver = (event: EvalEvent) => {
    options.onEvent(event);
    if (gcRoots && isDerivationEvent(event)) gcRoots.add(event.drvPath);
  };
  const cacheStatus = options.checkCacheStatus ? await cacheStatusSink(config, deliver, log) : undefined;
  const constituents = options.constituents
    ? new (await import('./sinks/constituents.js')).ConstituentsSink(cacheStatus?.add ?? deliver, config.workdir, log)
    : undefined;
  const emit = constituents?.add ?? cacheStatus?.add ?? deliver;
  await gcRoots?.open();
  const walk = (roots: AttrPath[] | undefined, onEvent: (event: EvalEvent) => void) => runWorkers(workerConfig, options, log, roots, onEvent);
  // Only hermetic inputs are cached: a flake, pinned, evaluated purely.
  const cache = nix && pin ? options.evalCache : undefined;
  const result = cache ? await walkWithCache(cache, config, { ...pin!, ...nix! }, walk, emit, log) : await walk(undefined, emit);
  if (result.fatal === undefined) await constituents?.finish();
  await cacheStatus?.drain();
  const failedRoots = (await gcRoots?.drain()) ?? 0;
  if (failedRoots > 0 && result.fatal === undefined) return { ...result, fatal: { kind: 'output', message: `${failedRoots} gc roots could not be added` } };
  return result;
}

async function cacheStatusSink(config: EvalConfig, deliver: (event: EvalEvent) => void, log: Logger) {
  const [{ CacheStatusSink }, { nixStoreQueries }] = await Promise.all([import('./sinks/cache-status.js'), import('./cache-status/store-queries.js')]);
  return new CacheStatusSink(nixStoreQueries(config.nixOptions, config.workdir, log), deliver, log);
}

/** Starts the local and remote workers and walks from `roots` (the root by default). */
async function runWorkers(
  workerConfig: WorkerConfig,
  options: EvaluateOptions,
  log: Logger,
  roots: AttrPath[] | undefined,
  onEvent: (event: EvalEvent) => void,
): Promise<RunResult> {
  // Each kind of worker's modules are loaded only for a run that has it: the protocol (capnp-es, node:crypto)
  // would cost a run without remotes 25-30 ms of its start, the local evaluators a run with only remotes 10 ms.
  const [{ runEvaluation }, local, remotes] = await Promise.all([
    import('./master/run.js'),
    options.workers > 0 ? localWorkers(workerConfig, options.workers, log) : undefined,
    options.remotes?.length ? remoteWorkers(options.remotes, options, log) : [],
  ]);
  options.onWorkers?.(local?.workers ?? []);
  const workers: Worker[] = [...(local?.workers ?? []), ...remotes];
  if (workers.length === 0) return { fatal: { kind: 'workers', message: 'no workers: give --workers N or --remote' }, completed: 0 };
  const result = await runEvaluation({
    workers,
    config: workerConfig,
    log,
    signal: options.signal,
    ...(options.consumerReady ? { consumerReady: options.consumerReady } : {}),
    admitEvaluator: () => local?.admitsAnother() ?? false,
    ...(roots ? { roots } : {}),
    ...(options.observe ? { observe: options.observe } : {}),
    onEvent,
  });
  if (!local) return result;
  const memory = local.memory();
  log.info(memory, 'memory of the local evaluators');
  return { ...result, memory };
}

/**
 * A run's local workers, as many as free memory has room for: the first
 * takes work at once, the others as work needs them (see
 * LocalWorker.setup), all within one budget, --max-memory each (see
 * MemoryBudget).
 */
async function localWorkers(workerConfig: WorkerConfig, asked: number, log: Logger) {
  const [{ LocalWorker, admitsLocalEvaluator, localEvaluatorRoom }, { MemoryBudget }] = await Promise.all([
    import('./worker/local-worker.js'),
    import('./worker/memory-budget.js'),
  ]);
  const room = localEvaluatorRoom();
  if (asked > room) log.warn(`--workers ${asked}: this machine's free memory has room for ${room} evaluators; at most ${room} will run`);
  const count = Math.min(asked, room);
  const budget = new MemoryBudget(count * workerConfig.maxMemoryMiB);
  return {
    workers: Array.from({ length: count }, (_, i) => new LocalWorker(`local-${i}`, log, { startsOnDemand: i > 0, budget })),
    /** Whether another evaluator may start now (one that starts on demand). */
    admitsAnother: () => admitsLocalEvaluator() && budget.roomForAnother(),
    memory: () => ({ peakMiB: Math.round(budget.peakMiB), budgetMiB: budget.limitMiB, killedForMemory: budget.kills }),
  };
}

/** A run's remote workers, one per connection asked for, sharing the config as shipped (prepared once). */
async function remoteWorkers(specs: readonly RemoteSpec[], options: EvaluateOptions, log: Logger): Promise<Worker[]> {
  const [{ RemoteWorker }, { shippedConfig }] = await Promise.all([import('./remote/remote-worker.js'), import('./nix/ship-sources.js')]);
  let shipped: Promise<WorkerConfig> | undefined;
  const shippedOnce = (config: WorkerConfig) => (shipped ??= shippedConfig(config));
  return specs.flatMap((spec) =>
    Array.from(
      { length: spec.connections },
      (_, i) =>
        new RemoteWorker({
          id: `${spec.endpoint.host}:${spec.endpoint.port}#${i}`,
          endpoint: spec.endpoint,
          systems: spec.systems.length > 0 ? new Set(spec.systems) : undefined,
          token: options.remoteToken,
          ...(options.remoteTls ? { tls: options.remoteTls } : {}),
          ...(options.remoteTimeouts ? { timeouts: options.remoteTimeouts } : {}),
          shipped: shippedOnce,
          log,
        }),
    ),
  );
}

/**
 * A walk through the evaluation cache: a stored walk is replayed, except
 * derivations whose .drv is gone from the store (collected), which are
 * evaluated again; otherwise the walk runs and, when complete, is stored.
 */
async function walkWithCache(
  cache: { directory: string; refresh: boolean },
  config: EvalConfig,
  identity: CacheIdentity,
  walk: (roots: AttrPath[] | undefined, onEvent: (event: EvalEvent) => void) => Promise<RunResult>,
  emit: (event: EvalEvent) => void,
  log: Logger,
): Promise<RunResult> {
  const { EvalCache, cacheKey } = await loadEvalCache();
  const store = new EvalCache(cache.directory);
  try {
    const key = cacheKey(config, identity);
    const stored = cache.refresh ? undefined : store.lookup(key);
    const events: EvalEvent[] = [];
    const record = (event: EvalEvent) => {
      events.push(event);
      emit(event);
    };
    // A walk is stored only when complete and free of errors the environment caused (see isEnvironmentalError).
    const save = (result: RunResult) => {
      if (result.fatal !== undefined) return;
      if (events.some((e) => isErrorEvent(e) && isEnvironmentalError(e.error))) {
        log.info('not storing the walk in the evaluation cache: some errors came from the environment (a failed download, a killed evaluator)');
        return;
      }
      store.save(key, events);
    };
    if (!stored) {
      const result = await walk(undefined, record);
      save(result);
      return result;
    }
    const gone = new Set(stored.filter((e) => isDerivationEvent(e) && !existsSync(e.drvPath)));
    log.info({ events: stored.length, evaluatedAgain: gone.size }, 'replaying the walk from the evaluation cache');
    for (const event of stored) if (!gone.has(event)) record(event);
    if (gone.size === 0) return { completed: stored.length };
    const result = await walk([...gone].map((e) => e.attrPath), record);
    save(result);
    return { ...result, completed: stored.length - gone.size + result.completed };
  } finally {
    store.close();
  }
}

/**
 * The cache module, loaded only by runs that use it: it needs node:sqlite
 * (Node 22.5 on), which importing the library should not, so that an older
 * Node imports evix and a run with a cache there fails in one line naming
 * the Node it needs.
 */
async function loadEvalCache(): Promise<typeof import('./cache/eval-cache.js')> {
  try {
    return await import('./cache/eval-cache.js');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ERR_UNKNOWN_BUILTIN_MODULE') throw error;
    throw new Error(`the evaluation cache needs Node.js 22.12 or newer (for node:sqlite), and this is ${process.version}`);
  }
}
