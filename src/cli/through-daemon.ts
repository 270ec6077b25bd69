/** Running eval, query and diff through evixd. */
import type { EvalConfig } from '../config.js';
import { DaemonClient } from '../daemon/client.js';
import { defaultSocketPath } from '../daemon/socket-path.js';
import type { EvalEvent } from '../events.js';
import type { RunResult } from '../master/run.js';
import type { GraphDiff, QueryFilter } from '../session/graph.js';

/** The run's result, or undefined when no daemon answers (evaluate here instead). */
export async function evaluateThroughDaemon(config: EvalConfig, workers: number, onEvent: (event: EvalEvent) => void): Promise<RunResult | undefined> {
  const client = await DaemonClient.connect(defaultSocketPath());
  if (!client) return undefined;
  let result: RunResult = { completed: 0 };
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
    client.close();
  }
  return result;
}

/** A request that needs the daemon: its one answer, or an Error with the daemon's message. */
export async function askDaemon<T>(body: { op: 'query'; config: EvalConfig; filter: QueryFilter } | { op: 'diff'; config: EvalConfig; workers: number }, pick: (reply: Record<string, unknown>) => T | undefined): Promise<T> {
  const socket = defaultSocketPath();
  const client = await DaemonClient.connect(socket);
  if (!client) throw new Error(`no evix daemon answers at ${socket}: start one with evix daemon --foreground`);
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
