/**
 * How much one worker should be given at a time, learned from its answers.
 *
 * A chunk should take about TARGET_CHUNK_MS to answer: long enough that
 * the round trip and the request cost little beside it, short enough that
 * work still spreads over every worker and the end of the run does not
 * wait on one big chunk. So the budget (results per chunk) is the target
 * over the measured time per result, grown from one by GROWTH (a slow
 * start: the first items of a run may be heavy). Items that take longer
 * than SLOW_RESULT_MS each go one at a time and one per worker, since an
 * item queued behind a heavy one cannot move to an idle worker.
 *
 * The evaluator walks into the sets of a chunk while the answer fits the
 * budget, which saves a request per set of a tree with small sets. So the
 * pace learns how many results an attribute asked for would bring with its
 * children (`reach`: the results of the answer, plus the children of the
 * sets it did not walk into) and asks for that many fewer attributes,
 * leaving the evaluator room to walk. A large set (a package set's root)
 * counts as at most MAX_REACH, so one does not starve the next chunks.
 */
export const TARGET_CHUNK_MS = 25;
export const SLOW_RESULT_MS = 10;
/** The most results a chunk may hold: bounds an answer frame, and the work redone when a chunk is split. */
export const MAX_CHUNK_RESULTS = 2048;

/**
 * How much the budget may grow per answer. Each step of the slow start is a
 * round trip, which a remote worker pays twice over (master to worker to
 * child): four times a step reaches a few hundred results in four answers.
 * The measured time per result still bounds every step.
 */
export const GROWTH = 4;

/** The most results one attribute asked for counts as bringing. */
const MAX_REACH = 64;

/** Weight of the newest measurement in the running averages. */
const NEWEST = 0.5;

export class ChunkPace {
  readonly #maxInFlight: number;
  #budget = 1;
  #msPerResult: number | undefined;
  #reach = 1;
  #lastAnswerAt = 0;
  #msPerAttributeSeen: number | undefined;

  /** `maxInFlight`: the most chunks the worker may hold (Worker.maxCapacity). */
  constructor(maxInFlight: number) {
    this.#maxInFlight = maxInFlight;
  }

  /** Results the next chunk should produce (the evaluator's walking budget). */
  get budget(): number {
    return this.#budget;
  }

  /** Attributes to ask for, so that the answer holds about `budget` results. */
  get attributes(): number {
    return Math.max(1, Math.floor(this.#budget / this.#reach));
  }

  /**
   * Milliseconds per attribute the latest answer described or found (its
   * results and the children of its sets not walked into): how cheap the
   * attributes are, as far as one answer tells. A root of 100k names is
   * one slow result, but 100k attributes found quickly.
   */
  get msPerAttributeSeen(): number | undefined {
    return this.#msPerAttributeSeen;
  }

  /** Results an attribute asked for brings lately, its unwalked children included (at most MAX_REACH). */
  get reach(): number {
    return this.#reach;
  }

  /** Chunks the worker should hold at once: one until its first answer says the items are cheap. */
  get inFlight(): number {
    return this.#msPerResult === undefined || this.#msPerResult > SLOW_RESULT_MS ? 1 : this.#maxInFlight;
  }

  /**
   * Records the answer to a chunk of `asked` attributes sent at `sentAt`
   * (ms, same clock as `now`) that held `results` results and sets with
   * `unwalked` children it did not walk into. Its time runs from the later
   * of sending it and the previous answer, since the worker answers its
   * chunks in order.
   */
  answered(sentAt: number, now: number, asked: number, results: number, unwalked: number): void {
    const took = now - Math.max(sentAt, this.#lastAnswerAt);
    this.#lastAnswerAt = now;
    if (results === 0) return;
    this.#msPerAttributeSeen = took / (results + unwalked);
    const perResult = took / results;
    this.#msPerResult = this.#msPerResult === undefined ? perResult : NEWEST * perResult + (1 - NEWEST) * this.#msPerResult;
    const reach = Math.min(MAX_REACH, Math.max(1, (results + unwalked) / asked));
    this.#reach = NEWEST * reach + (1 - NEWEST) * this.#reach;
    const fits = Math.floor(TARGET_CHUNK_MS / Math.max(this.#msPerResult, 1e-3));
    this.#budget = this.#msPerResult > SLOW_RESULT_MS ? 1 : Math.max(1, Math.min(GROWTH * this.#budget, fits, MAX_CHUNK_RESULTS));
  }
}
