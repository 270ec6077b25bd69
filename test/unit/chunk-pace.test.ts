/** ChunkPace fed answers with chosen timings: how big a worker's chunks get and how many it holds. */
import { expect, test } from 'vitest';
import { ChunkPace, GROWTH, MAX_CHUNK_RESULTS, SLOW_RESULT_MS, TARGET_CHUNK_MS } from '../../src/master/chunk-pace.js';

const MAX_IN_FLIGHT = 4;

interface Answers {
  msPerResult: number;
  /** Results each attribute asked for brings (itself and the children walked into); 1 by default. */
  resultsPerAttribute?: number;
  /** Children of sets not walked into, per attribute asked for; none by default. */
  unwalkedPerAttribute?: number;
}

/** Answers a pace's chunks one after another on one clock, as a worker's evaluator would. */
class InTurn {
  readonly pace: ChunkPace;
  now = 1000;

  constructor(pace: ChunkPace) {
    this.pace = pace;
  }

  /** Answers `count` chunks of `pace.attributes` attributes; returns the budget after each. */
  answer(count: number, { msPerResult, resultsPerAttribute = 1, unwalkedPerAttribute = 0 }: Answers): number[] {
    const budgets: number[] = [];
    for (let i = 0; i < count; i++) {
      const asked = this.pace.attributes;
      const results = asked * resultsPerAttribute;
      const sentAt = this.now;
      this.now += results * msPerResult;
      this.pace.answered(sentAt, this.now, asked, results, asked * unwalkedPerAttribute);
      budgets.push(this.pace.budget);
    }
    return budgets;
  }
}

test('a new worker is asked for one attribute at a time', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  expect([pace.budget, pace.attributes]).toEqual([1, 1]);
});

test('a worker holds one chunk until its first answer, since the first items of a run may be heavy', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  expect(pace.inFlight).toBe(1);
  new InTurn(pace).answer(1, { msPerResult: 0 });
  expect(pace.inFlight).toBe(MAX_IN_FLIGHT);
});

test('fast answers grow the budget GROWTH-fold from one up to MAX_CHUNK_RESULTS, and it stays there', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  const budgets = new InTurn(pace).answer(20, { msPerResult: 0 });
  let expected = 1;
  for (const budget of budgets) {
    expected = Math.min(GROWTH * expected, MAX_CHUNK_RESULTS);
    expect(budget).toBe(expected);
  }
  expect(budgets.at(-1)).toBe(MAX_CHUNK_RESULTS);
  expect(pace.attributes).toBe(MAX_CHUNK_RESULTS);
  expect(pace.inFlight).toBe(MAX_IN_FLIGHT);
});

test('the budget grows to what fits in TARGET_CHUNK_MS at the measured time per result, and follows it down', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  const worker = new InTurn(pace);
  const fast = 0.25;
  const fits = Math.floor(TARGET_CHUNK_MS / fast);
  const budgets = worker.answer(12, { msPerResult: fast });
  let expected = 1;
  for (const budget of budgets) {
    expected = Math.min(GROWTH * expected, fits);
    expect(budget).toBe(expected);
  }
  expect(budgets.at(-1)).toBe(fits);

  const slower = 1;
  const following = worker.answer(20, { msPerResult: slower });
  for (let i = 1; i < following.length; i++) expect(following[i]).toBeLessThanOrEqual(following[i - 1]!);
  expect(following[0]).toBeLessThan(fits);
  expect(following.at(-1)).toBe(Math.floor(TARGET_CHUNK_MS / slower));
  expect(pace.inFlight).toBe(MAX_IN_FLIGHT);
});

test('results slower than SLOW_RESULT_MS go one per chunk, one chunk at a time', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  new InTurn(pace).answer(1, { msPerResult: SLOW_RESULT_MS + 1 });
  expect([pace.inFlight, pace.budget, pace.attributes]).toEqual([1, 1, 1]);
});

test('one chunk of slow results after fast ones drops a worker to one attribute in one chunk; fast ones grow it again', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  const worker = new InTurn(pace);
  worker.answer(20, { msPerResult: 0 });
  expect(pace.budget).toBe(MAX_CHUNK_RESULTS);
  worker.answer(1, { msPerResult: 10 * TARGET_CHUNK_MS });
  expect([pace.inFlight, pace.budget, pace.attributes]).toEqual([1, 1, 1]);
  const growing = worker.answer(30, { msPerResult: 0 });
  for (let i = 1; i < growing.length; i++) expect(growing[i]).toBeGreaterThanOrEqual(growing[i - 1]!);
  expect(growing.at(-1)).toBe(MAX_CHUNK_RESULTS);
  expect(pace.inFlight).toBe(MAX_IN_FLIGHT);
});

test('attributes that bring more results than themselves are asked for fewer at a time, the budget unchanged', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  const worker = new InTurn(pace);
  worker.answer(11, { msPerResult: 0 });
  expect(pace.attributes).toBe(MAX_CHUNK_RESULTS);
  const resultsPerAttribute = 4;
  worker.answer(12, { msPerResult: 0, resultsPerAttribute });
  expect(pace.budget).toBe(MAX_CHUNK_RESULTS);
  expect(Math.abs(pace.attributes - pace.budget / resultsPerAttribute)).toBeLessThanOrEqual(1);
});

test('children of sets not walked into count as results an attribute brings, leaving the evaluator room to walk', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  const worker = new InTurn(pace);
  worker.answer(11, { msPerResult: 0 });
  // Each attribute is a set of three that did not fit the chunk: asking for a quarter leaves room for their children.
  worker.answer(12, { msPerResult: 0, unwalkedPerAttribute: 3 });
  expect(pace.budget).toBe(MAX_CHUNK_RESULTS);
  expect(Math.abs(pace.attributes - pace.budget / 4)).toBeLessThanOrEqual(1);
});

test('one set of 100k children not walked into does not drop the next chunk to one attribute', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  const worker = new InTurn(pace);
  worker.answer(11, { msPerResult: 0 });
  pace.answered(worker.now, worker.now, 1, 1, 100_000);
  expect(pace.attributes).toBeGreaterThan(1);
});

test('a worker that walks far more than asked is still asked for at least one attribute', () => {
  const pace = new ChunkPace(MAX_IN_FLIGHT);
  pace.answered(1000, 1000, 1, 500, 0);
  expect(pace.attributes).toBe(1);
});

test('a chunk sent before the previous answer is timed from that answer, one sent after it from its sending', () => {
  const took = 9;
  const pipelined = new ChunkPace(MAX_IN_FLIGHT);
  // Two chunks sent together, answered in turn `took` ms apart: each took `took`, not the second twice as long.
  pipelined.answered(1000, 1000 + took, 1, 1, 0);
  pipelined.answered(1000, 1000 + 2 * took, 1, 1, 0);
  expect(pipelined.inFlight).toBe(MAX_IN_FLIGHT);
  expect(pipelined.budget).toBe(Math.floor(TARGET_CHUNK_MS / took));

  const idle = new ChunkPace(MAX_IN_FLIGHT);
  // The second chunk is sent long after the first answer: the idle time between is not its evaluation.
  idle.answered(1000, 1000 + took, 1, 1, 0);
  idle.answered(5000, 5000 + took, 1, 1, 0);
  expect(idle.inFlight).toBe(MAX_IN_FLIGHT);
  expect(idle.budget).toBe(Math.floor(TARGET_CHUNK_MS / took));
});
