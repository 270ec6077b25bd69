/**
 * When a worker should sweep (Worker.sweep): take its share of everything
 * queued and walk all of it in one pass, instead of chunks of a few
 * thousand results.
 *
 * A sweep costs a process and an evaluation of the root, and saves most of
 * what each result costs in chunks (the store's work on a valid .drv, the
 * request, the round trip): so it pays for many cheap results, and not for
 * heavy ones, which chunks spread over every worker one at a time. What is
 * queued is counted in attributes, but an attribute may be a set with a
 * tree under it, so the expected results are the attributes times the
 * pace's reach (the results an attribute asked for has brought lately).
 * Cheapness is read from the latest answer per attribute it described or
 * found, so the answer for a package set's root (one slow result that
 * finds thousands of names) can start sweeps at once, before the repl has
 * built anything more for the set.
 */

/** Attributes slower than this each go in chunks: heavy items spread better one at a time. */
export const SWEEP_MAX_MS_PER_ATTRIBUTE = 1;

/** Expected results per sweep below which chunks are cheaper than a process and a root. */
export const SWEEP_MIN_RESULTS = 2048;

/**
 * Attributes per sweep below which chunks are cheaper whatever their
 * reach: the reach after a root's answer is the root's (its whole set), not
 * its children's, so a root of a hundred derivations alone would pass.
 */
export const SWEEP_MIN_ATTRIBUTES = 64;

/** What the plan reads of a ChunkPace. */
export interface PaceReading {
  msPerAttributeSeen: number | undefined;
  reach: number;
}

/**
 * Attributes of the queue one worker should sweep, when `sharers` workers
 * share `queued` attributes and results have lately come at `pace`; 0 when
 * a sweep would not pay.
 */
export function sweepShare(queued: number, sharers: number, pace: PaceReading): number {
  const cost = pace.msPerAttributeSeen;
  if (cost === undefined || cost > SWEEP_MAX_MS_PER_ATTRIBUTE || sharers < 1) return 0;
  const share = Math.ceil(queued / sharers);
  return share >= SWEEP_MIN_ATTRIBUTES && share * pace.reach >= SWEEP_MIN_RESULTS ? share : 0;
}
