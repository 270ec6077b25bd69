/**
 * The daemon's protocol: JSON, one object per line, over a Unix socket.
 * Every request carries the protocol version `v` and an `id` its replies
 * repeat. Requests are checked strictly (unknown fields, wrong types, lines
 * over the size limit): a bad one gets an error reply, never a crash.
 *
 *   {"v":1,"id":1,"op":"eval","config":{...},"workers":2}  -> {"id":1,"event":{...}}... {"id":1,"done":{}}
 *   {"v":1,"id":2,"op":"query","config":{...},"filter":{"systems":[],"attrs":[]}} -> {"id":2,"events":[...]}
 *   {"v":1,"id":3,"op":"diff","config":{...},"workers":2} -> {"id":3,"diff":{...}}
 *   {"v":1,"id":4,"op":"ping"} -> {"id":4,"pong":{"version":1}}
 * Any of them may instead get {"id":N,"error":"..."}.
 */
import { canonicalJson } from '../canonical-json.js';
import type { AutoArg, EvalConfig, EvalInput } from '../config.js';
import type { EvalEvent } from '../events.js';
import type { GraphDiff, QueryFilter } from '../session/graph.js';

export const DAEMON_PROTOCOL_VERSION = 1;
export const MAX_REQUEST_BYTES = 1024 * 1024;

export type DaemonRequest =
  | { v: number; id: number; op: 'eval'; config: EvalConfig; workers: number }
  | { v: number; id: number; op: 'diff'; config: EvalConfig; workers: number }
  | { v: number; id: number; op: 'query'; config: EvalConfig; filter: QueryFilter }
  | { v: number; id: number; op: 'ping' };

export type DaemonReply =
  | { id: number; event: EvalEvent }
  | { id: number; done: { fatal?: string } }
  | { id: number; events: EvalEvent[] }
  | { id: number; diff: GraphDiff }
  | { id: number; pong: { version: number } }
  | { id: number | null; error: string };

class Invalid extends Error {}

type Shape = Record<string, (value: unknown, where: string) => unknown>;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function object<T>(value: unknown, where: string, shape: Shape, optional: readonly string[] = []): T {
  if (!isObject(value)) throw new Invalid(`${where} must be an object`);
  for (const key of Object.keys(value)) if (!(key in shape)) throw new Invalid(`unknown field ${where}.${key}`);
  const out: Record<string, unknown> = {};
  for (const [key, check] of Object.entries(shape)) {
    if (!(key in value)) {
      if (optional.includes(key)) continue;
      throw new Invalid(`missing field ${where}.${key}`);
    }
    out[key] = check(value[key], `${where}.${key}`);
  }
  return out as T;
}

const string = (v: unknown, where: string) => {
  if (typeof v !== 'string') throw new Invalid(`${where} must be a string`);
  return v;
};
const boolean = (v: unknown, where: string) => {
  if (typeof v !== 'boolean') throw new Invalid(`${where} must be a boolean`);
  return v;
};
const count = (v: unknown, where: string) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Invalid(`${where} must be a non-negative integer`);
  return v;
};
const listOf =
  <T>(item: (v: unknown, where: string) => T) =>
  (v: unknown, where: string): T[] => {
    if (!Array.isArray(v)) throw new Invalid(`${where} must be a list`);
    return v.map((x, i) => item(x, `${where}[${i}]`));
  };
const pair = (v: unknown, where: string): [string, string] => {
  const [a, b] = listOf(string)(v, where);
  if (a === undefined || b === undefined || (v as unknown[]).length !== 2) throw new Invalid(`${where} must be a pair of strings`);
  return [a, b];
};

function input(v: unknown, where: string): EvalInput {
  const kind = isObject(v) ? v.kind : undefined;
  if (kind === 'file') return object(v, where, { kind: string, path: string });
  if (kind === 'expr') return object(v, where, { kind: string, expr: string });
  if (kind === 'flake') return object(v, where, { kind: string, ref: string });
  throw new Invalid(`${where}.kind must be file, expr or flake`);
}

function autoArg(v: unknown, where: string): AutoArg {
  const arg = object<AutoArg>(v, where, { name: string, kind: string, value: string });
  if (arg.kind !== 'expr' && arg.kind !== 'string') throw new Invalid(`${where}.kind must be expr or string`);
  return arg;
}

function config(v: unknown, where: string): EvalConfig {
  return object<EvalConfig>(
    v,
    where,
    {
      input,
      autoArgs: listOf(autoArg),
      includePaths: listOf(string),
      nixOptions: listOf(pair),
      overrideInputs: listOf(pair),
      impure: boolean,
      forceRecurse: boolean,
      meta: boolean,
      showInputDrvs: boolean,
      showTrace: boolean,
      maxMemoryMiB: count,
      workdir: string,
      select: string,
      apply: string,
    },
    ['select', 'apply'],
  );
}

const filter = (v: unknown, where: string) => object<QueryFilter>(v, where, { systems: listOf(string), attrs: listOf(string) }, ['systems', 'attrs']);

/** Reads one request line, or says what is wrong with it (with its id when it had one). */
export function parseRequest(line: string): DaemonRequest | { id: number | null; error: string } {
  let value: unknown;
  try {
    value = JSON.parse(line);
  } catch {
    return { id: null, error: 'request is not JSON' };
  }
  const id = isObject(value) && typeof value.id === 'number' && Number.isSafeInteger(value.id) ? value.id : null;
  try {
    if (!isObject(value)) throw new Invalid('request must be an object');
    if (value.v !== DAEMON_PROTOCOL_VERSION) throw new Invalid(`protocol version mismatch: the daemon speaks ${DAEMON_PROTOCOL_VERSION}, the request ${JSON.stringify(value.v)}`);
    const base = { v: number, id: count, op: string };
    switch (value.op) {
      case 'eval':
      case 'diff':
        return object(value, 'request', { ...base, config, workers: count });
      case 'query':
        return object(value, 'request', { ...base, config, filter });
      case 'ping':
        return object(value, 'request', base);
      default:
        throw new Invalid(`unknown op ${JSON.stringify(value.op)}`);
    }
  } catch (error) {
    if (error instanceof Invalid) return { id, error: error.message };
    throw error;
  }
}

function number(v: unknown, where: string): number {
  if (typeof v !== 'number') throw new Invalid(`${where} must be a number`);
  return v;
}

/** Sessions are keyed by the whole configuration: same key, same walk. */
export function sessionKey(config: EvalConfig): string {
  return canonicalJson(config);
}
