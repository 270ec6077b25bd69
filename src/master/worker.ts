/**
 * The one interface the master holds workers by. A local worker owns an
 * evaluator; a remote worker is a connection whose other end owns one. The
 * master knows only what is here.
 */
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { ChunkAnswer, SweepAnswer, WorkChunk } from '../work.js';
import type { AttrPath } from '../nix/syntax.js';
import type { OwnedSystems } from './scheduler.js';

export interface Worker {
  /** Unique within a run; names the worker in logs. */
  readonly id: string;
  /** Systems whose derivations this worker may produce; undefined for any. */
  readonly systems: OwnedSystems;
  /**
   * The most chunks it may hold at once (evaluate() calls in flight): enough
   * to hide the round trip to its evaluator. The dispatcher holds it to one
   * while items are slow (ChunkPace).
   */
  readonly maxCapacity: number;
  /**
   * The dispatcher gives it a first chunk only when the started workers are
   * full and work is left (and the run admits another evaluator): an
   * evaluator costs memory and an evaluation of the root, which a small run
   * does not need many of.
   */
  readonly startsOnDemand?: boolean;
  /**
   * evaluate() answers a `part` of the root (see the `part` WorkUnit), for
   * a worker that does not sweep here (a remote, whose other end sweeps):
   * when every worker sweeps or answers parts, the walk starts in parts.
   */
  readonly answersParts?: boolean;
  /** Prepares the worker for `config`. Rejects when the evaluation cannot be set up at all. */
  setup(config: WorkerConfig): Promise<void>;
  /**
   * Evaluates a chunk of attributes (see ChunkAnswer for what comes back),
   * walking into sets of the chunk while the answer stays within `budget`
   * attributes. Attribute-level failures resolve as error events; a
   * rejection means the worker itself failed and the whole chunk must be
   * tried elsewhere. A chunk holding a part, whose answer is a whole sweep,
   * may be answered as it goes: results go to `stream` before the rest
   * resolves. A rejection then cannot say what is unanswered; the chunk is
   * tried again whole, and what was streamed is not delivered twice (see
   * Scheduler.stream).
   */
  evaluate(chunk: WorkChunk, budget: number, stream: (results: ChunkAnswer) => void): Promise<ChunkAnswer>;
  /**
   * Evaluates a large chunk and every set under it in one pass, however many
   * attributes that brings (see SweepPlan): offered by a worker whose
   * evaluator is on this machine, where one pass costs a process and an
   * evaluation of the root. Results go to `deliver` as they come (a promise
   * it returns holds the sweep back until it settles: the consumer is full);
   * the answer holds the rest, and `left`, attributes the sweep leaves to
   * chunks (errors, whose text a chunk gives; what remained after a sweep
   * died or passed --max-memory). Together they answer as evaluate() does.
   * A rejection after something was delivered is a SweepIncompleteError
   * naming what is still unanswered: what was delivered stands.
   */
  sweep?(chunk: WorkChunk, deliver: (results: ChunkAnswer) => Promise<void> | undefined): Promise<SweepAnswer>;
  /**
   * After evaluate() rejected with WorkerUnavailableError: resolves true once
   * the worker can take work again (a remote reconnected), false when it
   * gave up. Workers that cannot come back do not implement it.
   */
  recover?(): Promise<boolean>;
  close(): Promise<void>;
}

/** The worker lost its means to evaluate (a connection) but may get it back: see recover(). */
export class WorkerUnavailableError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'WorkerUnavailableError';
  }
}

/** A sweep failed after delivering results: `unanswered` are the attributes it leaves, each with all under it. */
export class SweepIncompleteError extends Error {
  readonly unanswered: AttrPath[];

  constructor(message: string, unanswered: AttrPath[], options?: ErrorOptions) {
    super(message, options);
    this.name = 'SweepIncompleteError';
    this.unanswered = unanswered;
  }
}

/** Closes a worker; a failure to close is logged, not thrown: the run's outcome does not depend on it. */
export function closeWorker(worker: Worker, log: Logger): Promise<void> {
  return worker.close().catch((error: unknown) => log.debug({ worker: worker.id, err: (error as Error).message }, 'closing a worker failed'));
}
