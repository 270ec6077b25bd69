/** A Worker evaluating in this process's own `nix repl` child. */
import { freemem } from 'node:os';
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { Worker } from '../master/worker.js';
import type { ChunkAnswer, SweepAnswer, WorkChunk } from '../work.js';
import { Evaluator, type EvaluateOutcome } from './evaluator.js';
import type { MemoryBudget } from './memory-budget.js';

/**
 * Free memory an evaluator needs before another one starts. A `nix repl`
 * holding a small input takes tens of MiB, one holding a package set
 * hundreds; starting evaluators past what the machine holds makes it
 * thrash (100000 workers asked for once brought a load average near 300).
 */
const EVALUATOR_MIN_FREE_BYTES = 256 * 1024 * 1024;

/** Local evaluators this machine's free memory has room for, at least one. */
export function localEvaluatorRoom(): number {
  return Math.max(1, Math.floor(freemem() / EVALUATOR_MIN_FREE_BYTES));
}

/** Whether free memory has room for one more local evaluator now. */
export function admitsLocalEvaluator(): boolean {
  return freemem() >= EVALUATOR_MIN_FREE_BYTES;
}

/** Chunks a local worker holds at most: one evaluating and one waiting in the pipe hide the round trip to its child. */
export const LOCAL_PIPELINE_DEPTH = 2;

export class LocalWorker implements Worker {
  readonly id: string;
  /** Local workers evaluate every system. */
  readonly systems = undefined;
  readonly maxCapacity = LOCAL_PIPELINE_DEPTH;
  readonly startsOnDemand: boolean;
  readonly #log: Logger;
  #evaluator: Evaluator | undefined;
  #restarts = 0;

  readonly #budget: MemoryBudget | undefined;

  /**
   * `startsOnDemand`: the dispatcher gives it work only when the others are
   * full (see Worker). `budget`: the memory budget of the run's local
   * evaluators.
   */
  constructor(id: string, log: Logger, options: { startsOnDemand?: boolean; budget?: MemoryBudget } = {}) {
    this.id = id;
    this.startsOnDemand = options.startsOnDemand ?? false;
    this.#budget = options.budget;
    this.#log = log.child({ worker: id });
  }

  /**
   * Starts no child: its first work does, and a walk that sweeps everything
   * starts no repl at all. Setting up has nothing to check here that the
   * master has not: for a file or an expression the definitions are lazy
   * (the expressions were parsed in resolveConfig), and a flake was locked,
   * so fetched, by the master on this machine. A repl started at setup ran
   * beside the opening sweeps: a third of a small input's time.
   */
  async setup(config: WorkerConfig): Promise<void> {
    this.#evaluator = new Evaluator(config, this.#log, this.#budget);
  }

  async evaluate(chunk: WorkChunk, budget: number, stream: (results: ChunkAnswer) => void): Promise<ChunkAnswer> {
    return (await this.#answer((evaluator) => evaluator.evaluate(chunk, budget, stream))).results;
  }

  async sweep(chunk: WorkChunk, deliver: (results: ChunkAnswer) => Promise<void> | undefined): Promise<SweepAnswer> {
    const { results, left } = await this.#answer((evaluator) => evaluator.sweep(chunk, deliver));
    return { results, left };
  }

  /** What the evaluator answers, counting its restarts. */
  async #answer<Outcome extends EvaluateOutcome>(ask: (evaluator: Evaluator) => Promise<Outcome>): Promise<Outcome> {
    if (!this.#evaluator) throw new Error(`worker ${this.id} evaluated before setup`);
    const outcome = await ask(this.#evaluator);
    if (outcome.restarted) this.#restarts++;
    return outcome;
  }

  /** How many times its evaluator was replaced for passing the memory limit. */
  get restarts(): number {
    return this.#restarts;
  }

  /** The pid of the nix child its evaluator evaluates in now (see Evaluator.childPid). */
  get childPid(): number | undefined {
    return this.#evaluator?.childPid;
  }

  async close(): Promise<void> {
    await this.#evaluator?.close();
  }
}
