/**
 * How a whole run can fail, as data: every caller (the command line, the
 * daemon, a library user) gets the same kinds whatever the input was, so
 * "the input is broken" is one case whether a flake would not lock, a file
 * was missing, an expression did not parse or the root threw.
 */

export type RunFailure =
  /** The input cannot be evaluated: not found, not lockable, not parseable, a bad --arg, the root fails. */
  | { kind: 'input'; message: string }
  /** A derivation whose system no worker owns (system routing). */
  | { kind: 'unroutable'; message: string }
  /** No worker could be set up, or none is left while work remains. */
  | { kind: 'workers'; message: string }
  /** What was found could not all be delivered (GC roots). */
  | { kind: 'output'; message: string }
  /** The evix daemon could not run the walk it was asked for. */
  | { kind: 'daemon'; message: string }
  /** The caller stopped the run (a signal, an aborted AbortSignal). */
  | { kind: 'interrupted'; message: string };

/** The input is broken (see RunFailure's 'input'): thrown before or while setting up a run. */
export class InputError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'InputError';
  }
}

/** How an error event says that an attribute's evaluator died on it by itself (see the evaluator's deaths). */
export const EVALUATOR_DIED = 'the nix evaluator died evaluating this attribute';
