/**
 * What an evaluation is: the user's request (EvalConfig) and what every
 * worker receives once the master has resolved it (WorkerConfig: absolute
 * paths, a locked flake). Plain data, so it can cross a wire unchanged.
 */

export type EvalInput =
  | { kind: 'file'; path: string }
  | { kind: 'expr'; expr: string }
  | { kind: 'flake'; ref: string };

/** An argument for a function root: `--arg` (a Nix expression) or `--argstr` (a string). */
export interface AutoArg {
  name: string;
  kind: 'expr' | 'string';
  value: string;
}

export interface EvalOptions {
  autoArgs: AutoArg[];
  /** -I entries, in order. */
  includePaths: string[];
  /** --option KEY VALUE pairs, in order. */
  nixOptions: Array<[string, string]>;
  overrideInputs: Array<[string, string]>;
  impure: boolean;
  forceRecurse: boolean;
  meta: boolean;
  showInputDrvs: boolean;
  showTrace: boolean;
  /** --select: a Nix function applied to the root before the walk. */
  select?: string;
  /** --apply: a Nix function applied to each derivation; its result is `extraValue`. */
  apply?: string;
  /** Restart a worker's evaluator once its resident memory passes this. */
  maxMemoryMiB: number;
  /** Directory relative paths in expressions resolve against. */
  workdir: string;
}

export interface EvalConfig extends EvalOptions {
  input: EvalInput;
}

export type ResolvedInput =
  | { kind: 'file'; path: string }
  | { kind: 'expr'; expr: string }
  | {
      kind: 'flake';
      /** The locked reference, as `nix flake metadata` gives it. */
      lockedUrl: string;
      /** Where the root sits in the flake's outputs (the reference's fragment). */
      attrPath: string[];
      /** With --override-input: JSON of the root's locked source and the overridden lock graph. */
      overriddenLock?: string;
    };

export interface WorkerConfig extends EvalOptions {
  input: ResolvedInput;
}

export const DEFAULT_MAX_MEMORY_MIB = 4096;
