/** The evix library: evaluate an attribute tree from TypeScript. */
export { evaluate, type EvaluateOptions } from './evaluate.js';
export { InputError, type RunFailure } from './failures.js';
export type { RunResult } from './master/run.js';
export type { AutoArg, EvalConfig, EvalInput, EvalOptions } from './config.js';
export { DEFAULT_MAX_MEMORY_MIB } from './config.js';
export type { AttrsetEvent, DerivationEvent, ErrorEvent, EvalEvent } from './events.js';
export { isAttrsetEvent, isDerivationEvent, isErrorEvent } from './events.js';
export { formatAttrPath } from './nix/syntax.js';
export { Session, EvaluationFailed, type SessionConfig, type SessionOptions, type WatchUpdate } from './session/session.js';
export { NotWatchable } from './session/watched-paths.js';
export type { GraphDiff, QueryFilter } from './session/graph.js';
