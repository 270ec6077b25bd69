/**
 * The events evix streams, one JSON object per line. The shapes are the
 * output format (README "Output"): no envelope and no type tag, so a line is
 * told apart by its fields (`drvPath`, `attrs` or `error`), as consumers of
 * nix-eval-jobs already do.
 */
import type { AttrPath } from './nix/syntax.js';

export interface DerivationEvent {
  attr: string;
  attrPath: string[];
  name: string;
  system: string;
  drvPath: string;
  /** Output name to store path. */
  outputs: Record<string, string>;
  /** System features a builder needs (`requiredSystemFeatures`), empty when none. */
  requiredSystemFeatures: string[];
  /** With --meta: the meta attributes that can be forced and serialised. */
  meta?: Record<string, unknown>;
  /** With --show-input-drvs: input .drv path to the outputs used, read from the .drv. */
  inputDrvs?: Record<string, string[]>;
  /** For aggregates (`_hydraAggregate = true`): .drv paths of constituent derivations. */
  constituents?: string[];
  /** For aggregates: constituents named by job (attribute) instead of given as derivations. */
  namedConstituents?: string[];
  /** For aggregates (`_hydraGlobConstituents = true`): the names are glob patterns. */
  globConstituents?: boolean;
  /** With --apply: the function's result for this derivation. */
  extraValue?: unknown;
  /** With --check-cache-status: outputs all here (local), downloadable (cached), or not. */
  cacheStatus?: 'local' | 'cached' | 'notBuilt';
  isCached?: boolean;
  /** With --check-cache-status: .drv files that would be built to have the outputs. */
  neededBuilds?: string[];
  /** With --check-cache-status: store paths that would be downloaded. */
  neededSubstitutes?: string[];
}

export interface AttrsetEvent {
  attr: string;
  attrPath: string[];
  /** Names of the children that will be walked. */
  attrs: string[];
}

export interface ErrorEvent {
  attr: string;
  attrPath: string[];
  error: string;
  /** True when the error ended the whole run. */
  fatal: boolean;
  /**
   * With --constituents, for an aggregate that could not be resolved: its
   * derivation, which the nix-eval-jobs format prints with the error. The
   * evix format leaves it out.
   */
  aggregate?: DerivationEvent;
}

export type EvalEvent = DerivationEvent | AttrsetEvent | ErrorEvent;

/**
 * What a worker answers for one attribute path. `skip` is a value that is
 * neither a derivation nor a set to recurse into (a string, a function, a set
 * without `recurseForDerivations`): nothing is printed for it.
 */
export type WorkResult = DerivationEvent | AttrsetResult | ErrorEvent | { skip: true; attrPath: string[] };

/**
 * An attrset as a worker answers it. `childrenAnswered`: the worker walked
 * the set's children itself and their results are in the same answer (see
 * ChunkAnswer), so the master must not queue them. Not part of the event.
 */
export interface AttrsetResult extends AttrsetEvent {
  childrenAnswered?: boolean;
}

export function isDerivationEvent(e: WorkResult): e is DerivationEvent {
  return 'drvPath' in e;
}

export function isAttrsetEvent(e: WorkResult): e is AttrsetResult {
  return 'attrs' in e;
}

export function isErrorEvent(e: WorkResult): e is ErrorEvent {
  return 'error' in e;
}

export function isSkip(e: WorkResult): e is { skip: true; attrPath: string[] } {
  return 'skip' in e;
}

export type { AttrPath };
