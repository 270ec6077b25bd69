/**
 * The one interface the master holds workers by. A local worker owns an
 * evaluator; a remote worker is a connection whose other end owns one. The
 * master knows only what is here.
 */
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import type { AttrPath } from '../nix/syntax.js';
import type { OwnedSystems } from './scheduler.js';

export interface Worker {
  /** Unique within a run; names the worker in logs. */
  readonly id: string;
  /** Systems whose derivations this worker may produce; undefined for any. */
  readonly systems: OwnedSystems;
  /** The most items it may ever hold at once (evaluate() calls in flight). */
  readonly maxCapacity: number;
  /**
   * Items it wants to hold now, at most maxCapacity. Read before each item,
   * so a worker can pipeline cheap items and take heavy ones one at a time.
   */
  readonly capacity: number;
  /** Prepares the worker for `config`. Rejects when the evaluation cannot be set up at all. */
  setup(config: WorkerConfig): Promise<void>;
  /**
   * Evaluates one attribute path. Attribute-level failures resolve as error
   * events; a rejection means the worker itself failed and the item must be
   * tried elsewhere.
   */
  evaluate(path: AttrPath): Promise<WorkResult>;
  close(): Promise<void>;
}
