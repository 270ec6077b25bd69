/** A Worker evaluating in this process's own `nix repl` child. */
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import type { Logger } from '../log.js';
import type { Worker } from '../master/worker.js';
import type { AttrPath } from '../nix/syntax.js';
import { Evaluator } from './evaluator.js';

/** Requests in flight per evaluator: enough to hide the round trip. */
const PIPELINE_DEPTH = 4;

export class LocalWorker implements Worker {
  readonly id: string;
  /** Local workers evaluate every system. */
  readonly systems = undefined;
  readonly maxCapacity = PIPELINE_DEPTH;
  readonly #log: Logger;
  #evaluator: Evaluator | undefined;

  constructor(id: string, log: Logger) {
    this.id = id;
    this.#log = log.child({ worker: id });
  }

  async setup(config: WorkerConfig): Promise<void> {
    this.#evaluator = new Evaluator(config, this.#log);
    await this.#evaluator.start();
  }

  async evaluate(path: AttrPath): Promise<WorkResult> {
    if (!this.#evaluator) throw new Error(`worker ${this.id} evaluated before setup`);
    return (await this.#evaluator.evaluate(path)).result;
  }

  /**
   * Cheap items are pipelined into the evaluator, which hides the round trip
   * between the processes. Items that take a while go one at a time: one
   * queued behind another in this worker's child could not move to an idle
   * worker, and the run would end waiting on one busy child. So the depth
   * starts at one and grows with each cheap item in a row (a slow start).
   */
  get capacity(): number {
    return Math.min(PIPELINE_DEPTH, 1 + (this.#evaluator?.fastStreak ?? 0));
  }

  /** The pid of the evaluator's current nix child. */
  get childPid(): number | undefined {
    return this.#evaluator?.childPid;
  }

  async close(): Promise<void> {
    await this.#evaluator?.close();
  }
}
