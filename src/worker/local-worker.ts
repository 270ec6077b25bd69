/** A Worker evaluating in this process's own `nix repl` child. */
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import type { Logger } from '../log.js';
import type { Worker } from '../master/worker.js';
import type { AttrPath } from '../nix/syntax.js';
import { PIPELINE_DEPTH, PipelineDepth } from '../master/pipeline-depth.js';
import { Evaluator } from './evaluator.js';

export class LocalWorker implements Worker {
  readonly id: string;
  /** Local workers evaluate every system. */
  readonly systems = undefined;
  readonly maxCapacity = PIPELINE_DEPTH;
  readonly #log: Logger;
  #evaluator: Evaluator | undefined;
  readonly #depth = new PipelineDepth(PIPELINE_DEPTH);

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
    const sent = performance.now();
    const { result } = await this.#evaluator.evaluate(path);
    this.#depth.answered(sent, performance.now());
    return result;
  }

  get capacity(): number {
    return this.#depth.current;
  }

  /** The pid of the evaluator's current nix child. */
  get childPid(): number | undefined {
    return this.#evaluator?.childPid;
  }

  async close(): Promise<void> {
    await this.#evaluator?.close();
  }
}
