/** A Worker evaluating in this process's own `nix repl` child. */
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Worker } from '../master/worker.js';
import type { ChunkAnswer, WorkChunk } from '../work.js';
import { Evaluator } from './evaluator.js';

/** Chunks a local worker holds at most: one evaluating and one waiting in the pipe hide the round trip to its child. */
export const LOCAL_PIPELINE_DEPTH = 2;

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

  async evaluate(chunk: WorkChunk, budget: number): Promise<ChunkAnswer> {
    if (!this.#evaluator) throw new Error(`worker ${this.id} evaluated before setup`);
    const { results, restarted } = await this.#evaluator.evaluate(chunk, budget);
    if (restarted) this.#restarts++;
    return results;
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
