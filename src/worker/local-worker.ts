/** A Worker evaluating in this process's own `nix repl` child. */
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import type { Logger } from '../log.js';
import type { Worker } from '../master/worker.js';
import type { AttrPath } from '../nix/syntax.js';
import { Evaluator } from './evaluator.js';

/** Requests a local worker keeps in flight at most: enough to hide the round trip to its child. */
export const LOCAL_PIPELINE_DEPTH = 4;

export class LocalWorker implements Worker {
  readonly id: string;
  /** Local workers evaluate every system. */
  readonly systems = undefined;
  readonly maxCapacity = LOCAL_PIPELINE_DEPTH;
  readonly #log: Logger;
  #evaluator: Evaluator | undefined;
  #restarts = 0;

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
    const { result, restarted } = await this.#evaluator.evaluate(path);
    if (restarted) this.#restarts++;
    return result;
  }

  /** How many times its evaluator was replaced for passing the memory limit. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The pid of the evaluator's current nix child. */
  get childPid(): number | undefined {
    return this.#evaluator?.childPid;
  }

  async close(): Promise<void> {
    await this.#evaluator?.close();
  }
}
