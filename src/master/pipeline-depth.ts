/**
 * How many items a worker should hold at once. Cheap items are pipelined
 * (several requests in flight hide the round trip to the evaluator); items
 * that take a while go one at a time, since one queued behind another in a
 * worker cannot move to an idle worker and the run would end waiting on one
 * busy evaluator. The depth starts at one and grows with each cheap item in
 * a row (a slow start); one slow item drops it back to one.
 */
export const FAST_ITEM_MS = 10;

export class PipelineDepth {
  readonly max: number;
  #fastStreak = 0;
  #lastAnswerAt = 0;

  constructor(max: number) {
    this.max = max;
  }

  get current(): number {
    return Math.min(this.max, 1 + this.#fastStreak);
  }

  /**
   * Records an answer to a request sent at `sentAt` (ms, same clock as
   * `now`). Its evaluation time runs from the later of sending it and the
   * previous answer, since the evaluator answers in order.
   */
  answered(sentAt: number, now: number): void {
    const took = now - Math.max(sentAt, this.#lastAnswerAt);
    this.#lastAnswerAt = now;
    this.#fastStreak = took > FAST_ITEM_MS ? 0 : this.#fastStreak + 1;
  }
}
