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
import { canonicalConfig } from '../canonical-config.js';
import { canonicalJson } from '../canonical-json.js';
import type { AutoArg, EvalConfig, EvalInput } from '../config.js';
import type { EvalEvent } from '../events.js';
import type { RunFailure } from '../failures.js';
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
  | { id: number; done: { fatal?: RunFailure } }
  | { id: number; events: EvalEvent[] }
  | { id: number; diff: GraphDiff }
  | { id: number; pong: { version: number } }
  | { id: number | null; error: string };

class Invalid extends Error {}

/**
 * Reads a value that should be a T, or throws Invalid saying what is wrong
 * with it at `where`. Invariant in T (not covariant as a function's result
 * is), so that a check reading less than its field's type, as `'a'` for a
 * field widened to `'a' | 'b'`, does not compile.
 */
type Check<in out T> = (value: unknown, where: string) => T;

/** The check of a field a request may leave out. */
interface Optional<T> {
  optional: Check<T>;
}

/**
 * How to read each field of T. Mapped from T, so that a field added to T,
 * removed from it or retyped and not here is a compile error, and so is a
 * field optional in T but not marked optional() here, or the other way round.
 */
type Shape<T> = { [K in keyof T]-?: {} extends Pick<T, K> ? Optional<Exclude<T[K], undefined>> : Check<T[K]> };

const optional = <T>(check: Check<T>): Optional<T> => ({ optional: check });

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** An object with exactly the fields of `shape` (optional ones may be absent), each passing its check. */
function object<T>(value: unknown, where: string, shape: Shape<T>): T {
  if (!isObject(value)) throw new Invalid(`${where} must be an object`);
  for (const key of Object.keys(value)) if (!Object.hasOwn(shape, key)) throw new Invalid(`unknown field ${where}.${key}`);
  const out: Record<string, unknown> = {};
  for (const [key, field] of Object.entries(shape) as Array<[string, Check<unknown> | Optional<unknown>]>) {
    const required = typeof field === 'function';
    const check = required ? field : field.optional;
    if (!Object.hasOwn(value, key)) {
      if (required) throw new Invalid(`missing field ${where}.${key}`);
      continue;
    }
    out[key] = check(value[key], `${where}.${key}`);
  }
  return out as T;
}

const string: Check<string> = (v, where) => {
  if (typeof v !== 'string') throw new Invalid(`${where} must be a string`);
  return v;
};
const boolean: Check<boolean> = (v, where) => {
  if (typeof v !== 'boolean') throw new Invalid(`${where} must be a boolean`);
  return v;
};
const number: Check<number> = (v, where) => {
  if (typeof v !== 'number') throw new Invalid(`${where} must be a number`);
  return v;
};
const count: Check<number> = (v, where) => {
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw new Invalid(`${where} must be a non-negative integer`);
  return v;
};
const listOf =
  <T>(item: Check<T>): Check<T[]> =>
  (v, where) => {
    if (!Array.isArray(v)) throw new Invalid(`${where} must be a list`);
    return v.map((x, i) => item(x, `${where}[${i}]`));
  };
const pair: Check<[string, string]> = (v, where) => {
  const [a, b] = listOf(string)(v, where);
  if (a === undefined || b === undefined || (v as unknown[]).length !== 2) throw new Invalid(`${where} must be a pair of strings`);
  return [a, b];
};

/** One of `words`: the check of a field typed as a union of string literals. */
function oneOf<const W extends string>(...words: W[]): Check<W> {
  const expected = words.length > 1 ? `${words.slice(0, -1).join(', ')} or ${words.at(-1)}` : words[0];
  return (v, where) => {
    if (!(words as unknown[]).includes(v)) throw new Invalid(`${where} must be ${expected}`);
    return v as W;
  };
}

/**
 * The check of a union whose members the field `tag` tells apart: the shape
 * of the member the tag names. A shape per member, so that a member added
 * to the union and not here is a compile error.
 */
function tagged<T extends Record<Tag, string>, Tag extends keyof T & string>(tag: Tag, shapes: { [K in T[Tag]]: Shape<Extract<T, Record<Tag, K>>> }): Check<T> {
  const tagCheck = oneOf(...(Object.keys(shapes) as Array<T[Tag]>));
  return (v, where) => {
    const name = tagCheck(isObject(v) ? v[tag] : undefined, `${where}.${tag}`);
    return object(v, where, shapes[name]);
  };
}

const input = tagged<EvalInput, 'kind'>('kind', {
  file: { kind: oneOf('file'), path: string },
  expr: { kind: oneOf('expr'), expr: string },
  flake: { kind: oneOf('flake'), ref: string },
});

const autoArg: Check<AutoArg> = (v, where) => object<AutoArg>(v, where, { name: string, kind: oneOf('expr', 'string'), value: string });

const config: Check<EvalConfig> = (v, where) =>
  object<EvalConfig>(v, where, {
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
    select: optional(string),
    apply: optional(string),
    maxMemoryMiB: count,
    workdir: string,
    evalStore: optional(string),
    overrideFlakes: optional(listOf(pair)),
    referenceLockFile: optional(string),
  });

const filter: Check<QueryFilter> = (v, where) => object<QueryFilter>(v, where, { systems: optional(listOf(string)), attrs: optional(listOf(string)) });

const request = tagged<DaemonRequest, 'op'>('op', {
  eval: { v: number, id: count, op: oneOf('eval'), config, workers: count },
  diff: { v: number, id: count, op: oneOf('diff'), config, workers: count },
  query: { v: number, id: count, op: oneOf('query'), config, filter },
  ping: { v: number, id: count, op: oneOf('ping') },
});

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
    return request(value, 'request');
  } catch (error) {
    if (error instanceof Invalid) return { id, error: error.message };
    throw error;
  }
}

/**
 * Sessions are keyed by the whole configuration, its input in one spelling
 * (`jobs.nix`, `./jobs.nix` and its absolute path are one session): same
 * key, same walk. The working directory stays in the key, since --expr,
 * --arg, -I and --option values may be relative to it.
 */
export function sessionKey(config: EvalConfig): string {
  return canonicalJson(canonicalConfig(config));
}
