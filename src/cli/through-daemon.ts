/** Running eval, query, diff and watch through evixd, and saying (on -v) where a run went. */
import type { EvalConfig } from '../config.js';
import { DaemonClient } from '../daemon/client.js';
import { defaultSocketPath } from '../daemon/socket-path.js';
import type { EvalEvent } from '../events.js';
import type { Logger } from '../log.js';
import type { RunResult } from '../master/run.js';
import { addToGraph, diffGraphs, emptyGraph, type GraphDiff, type QueryFilter } from '../session/graph.js';
import type { WatchOptions, WatchUpdate } from '../session/watch-loop.js';
import type { RunFlags } from './run-options.js';

/** Why a run with these flags evaluates here whether a daemon answers or not; undefined when the daemon may run it. */
function whyHere(flags: RunFlags): string | undefined {
  if (!flags.daemon) return '--no-daemon';
  const given: Array<[unknown, string]> = [
    [(flags.remote ?? []).length > 0, '--remote'],
    [flags.gcRootsDir, '--gc-roots-dir'],
    [flags.checkCacheStatus, '--check-cache-status'],
    [flags.constituents, '--constituents'],
    [typeof flags.evalCache === 'string', '--eval-cache'],
    [flags.evalCache === false, '--no-eval-cache'],
    [flags.refresh, '--refresh'],
  ];
  const own = given.filter(([value]) => value).map(([, flag]) => flag);
  return own.length > 0 ? `the daemon does not take ${own.join(', ')}` : undefined;
}

/** The daemon, when the flags allow it and one answers; either way, -v says where the run goes. */
async function daemonFor(flags: RunFlags, log: Promise<Logger>): Promise<{ client: DaemonClient; socket: string } | undefined> {
  const here = whyHere(flags);
  const socket = defaultSocketPath();
  const client = here === undefined ? await DaemonClient.connect(socket) : undefined;
  // Not awaited when evaluating here: the run's Nix commands start while the logger loads.
  void log.then((l) => l.info(client ? `evaluating in the evix daemon at ${socket}` : `evaluating here: ${here ?? `no evix daemon answers at ${socket}`}`));
  return client && { client, socket };
}

/** An eval through the daemon when the flags allow it and one answers: its result, or undefined (evaluate here instead). */
export async function evaluateThroughDaemon(flags: RunFlags, config: EvalConfig, workers: number, onEvent: (event: EvalEvent) => void, log: Promise<Logger>): Promise<RunResult | undefined> {
  const daemon = await daemonFor(flags, log);
  return daemon && walkOnDaemon(daemon.client, config, workers, onEvent);
}

/** One walk by the daemon, which keeps it warm; the connection is closed when `signal` aborts. */
async function walkOnDaemon(client: DaemonClient, config: EvalConfig, workers: number, onEvent: (event: EvalEvent) => void, signal?: AbortSignal): Promise<RunResult> {
  let result: RunResult = { completed: 0 };
  const close = () => client.close();
  signal?.addEventListener('abort', close);
  try {
    await client.request({ op: 'eval', config, workers }, (reply) => {
      if ('event' in reply) {
        onEvent(reply.event);
        result.completed++;
      } else if ('done' in reply) {
        if (reply.done.fatal !== undefined) result = { ...result, fatal: reply.done.fatal };
        return true;
      } else if ('error' in reply) {
        result = { ...result, fatal: { kind: 'daemon', message: `daemon: ${reply.error}` } };
      }
      return false;
    });
  } finally {
    signal?.removeEventListener('abort', close);
    client.close();
  }
  return result;
}

/**
 * `evix watch`'s updates: through the daemon when the flags allow it and one
 * answers as watching starts, else here. Through the daemon each walk is an
 * eval there, so the session it keeps (what query and diff read) is always
 * the latest walk, and is compared here with the walk before, the first with
 * nothing, as Session.watch does: the same lines either way, whatever else
 * walked the session meanwhile, and a daemon restarted mid-watch needs
 * nothing warm.
 */
export async function watchUpdates(flags: RunFlags, config: EvalConfig, workers: number, log: Promise<Logger>, options: WatchOptions): Promise<AsyncGenerator<WatchUpdate, void, undefined>> {
  const daemon = await daemonFor(flags, log);
  if (!daemon) {
    const { Session } = await import('../session/session.js');
    return (await Session.open(config, { workers, log: await log })).watch(options);
  }
  // Each walk opens its own connection: one held from here would keep the
  // process alive after a watch that cannot start (an input with no files).
  daemon.client.close();
  const { watchInput } = await import('../session/watch-loop.js');
  let previous = emptyGraph();
  return watchInput(
    config,
    async () => {
      const client = await DaemonClient.connect(daemon.socket);
      if (!client) throw new Error(`no evix daemon answers at ${daemon.socket} any more`);
      const graph = emptyGraph();
      const result = await walkOnDaemon(client, config, workers, (event) => addToGraph(graph, event), options.signal);
      if (result.fatal !== undefined) throw new Error(result.fatal.message);
      const diff = diffGraphs(previous, graph);
      previous = graph;
      return diff;
    },
    options,
  );
}

/** A request that needs the daemon: its one answer, or an Error with the daemon's message. -v says which daemon answered. */
export async function askDaemon<T>(
  body: { op: 'query'; config: EvalConfig; filter: QueryFilter } | { op: 'diff'; config: EvalConfig; workers: number },
  pick: (reply: Record<string, unknown>) => T | undefined,
  log: Promise<Logger>,
): Promise<T> {
  const socket = defaultSocketPath();
  const client = await DaemonClient.connect(socket);
  if (!client) throw new Error(`no evix daemon answers at ${socket}: start one with evix daemon --foreground`);
  (await log).info(`asking the evix daemon at ${socket}`);
  try {
    let answer: T | undefined;
    let failure: string | undefined;
    await client.request(body, (reply) => {
      if ('error' in reply) failure = reply.error;
      else answer = pick(reply as Record<string, unknown>);
      return true;
    });
    if (failure !== undefined || answer === undefined) throw new Error(failure ?? 'the daemon gave no answer');
    return answer;
  } finally {
    client.close();
  }
}

export type { GraphDiff };
