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
  /**
   * --eval-store: the store local evaluators evaluate in and write .drv
   * files to (the master's own: a remote evaluates in its own store).
   */
  evalStore?: string;
  /** --override-flake FROM TO pairs: registry entries redirected while locking (the master's own). */
  overrideFlakes?: Array<[string, string]>;
  /** --reference-lock-file: lock the flake's inputs as this lock file says (the master's own). */
  referenceLockFile?: string;
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
      /**
       * What workers evaluate, as JSON: the root as a path input on the
       * store path locking made, its sourceInfo (`shippedInfo`) and the lock
       * graph, overrides applied (see lockFlake and callLocked).
       */
      lockJson: string;
      /** The master's own (never sent): what remote workers are shipped (see src/nix/ship-sources.ts). */
      lock?: FlakeLock;
    };

/** A locked flake as the master sees it: its source in the store, its locked reference and whole lock graph. */
export interface FlakeLock {
  sourcePath: string;
  root: Record<string, unknown>;
  locks: unknown;
}

/** A content-addressed store path the input reads: shipped to a remote worker that lacks it. */
export interface StoreSource {
  storePath: string;
  /** SRI sha256 of its NAR serialisation: the store path is derived from it. */
  narHash: string;
  narSize: number;
  /** The master's own (never sent): where it reads the source from, when that is not the store path (a local directory). */
  readFrom?: string;
}

export interface WorkerConfig extends EvalOptions {
  input: ResolvedInput;
  /**
   * For remote workers: every store path the input reads. Their input then
   * names these and no other host path (see src/nix/ship-sources.ts).
   */
  sources?: StoreSource[];
}

export const DEFAULT_MAX_MEMORY_MIB = 4096;

/**
 * What an evaluation does about each option nobody set: the one list of
 * defaults, for the library and the command line alike. The working
 * directory is not here: it is the process's at the time of the call.
 */
export const DEFAULT_EVAL_OPTIONS: Readonly<Omit<EvalOptions, 'workdir'>> = {
  autoArgs: [],
  includePaths: [],
  nixOptions: [],
  overrideInputs: [],
  impure: false,
  forceRecurse: false,
  meta: false,
  showInputDrvs: false,
  showTrace: false,
  maxMemoryMiB: DEFAULT_MAX_MEMORY_MIB,
};

/** An evaluation config where everything but the input has a default. */
export type SessionConfig = Partial<EvalConfig> & Pick<EvalConfig, 'input'>;

/**
 * The config with its defaults filled in. A field set to undefined counts as
 * not set (the command line passes every flag, given or not), so it takes
 * the default instead of hiding it.
 */
export function completeConfig(config: SessionConfig): EvalConfig {
  const given = Object.fromEntries(Object.entries(config).filter(([, value]) => value !== undefined)) as SessionConfig;
  // Cloned so that no two configs share a default list.
  return { ...structuredClone(DEFAULT_EVAL_OPTIONS), workdir: process.cwd(), ...given };
}
