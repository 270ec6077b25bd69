/** sweepShare: when a worker should take its share of the queue as one sweep. */
import { expect, test } from 'vitest';
import { SWEEP_MAX_MS_PER_ATTRIBUTE, SWEEP_MIN_ATTRIBUTES, SWEEP_MIN_RESULTS, sweepShare } from '../../src/master/sweep-plan.js';

test('a package set root found quickly: each of two workers sweeps half of its names', () => {
  // One answer of 450 ms that found 100k names: 4.5 µs an attribute.
  expect(sweepShare(100_000, 2, { msPerAttributeSeen: 450 / 100_001, reach: 64 })).toBe(50_000);
  expect(sweepShare(100_001, 2, { msPerAttributeSeen: 0.01, reach: 1 })).toBe(50_001);
});

test('heavy attributes stay in chunks, however many are queued', () => {
  expect(sweepShare(100_000, 2, { msPerAttributeSeen: SWEEP_MAX_MS_PER_ATTRIBUTE * 2, reach: 1 })).toBe(0);
  expect(sweepShare(100_000, 2, { msPerAttributeSeen: undefined, reach: 1 })).toBe(0);
});

test('a share too small to pay for a process and a root stays in chunks; sets count by their reach', () => {
  expect(sweepShare(2 * SWEEP_MIN_RESULTS - 2, 2, { msPerAttributeSeen: 0.01, reach: 1 })).toBe(0);
  expect(sweepShare(2 * SWEEP_MIN_RESULTS, 2, { msPerAttributeSeen: 0.01, reach: 1 })).toBe(SWEEP_MIN_RESULTS);
  // 200 queued sets that each brought 64 results lately: 6400 results a worker.
  expect(sweepShare(200, 2, { msPerAttributeSeen: 0.05, reach: 64 })).toBe(100);
  expect(sweepShare(200, 2, { msPerAttributeSeen: 0.05, reach: 1 })).toBe(0);
  expect(sweepShare(100, 0, { msPerAttributeSeen: 0.05, reach: 64 })).toBe(0);
  // A root of a hundred derivations: its reach is the root's own.
  expect(sweepShare(2 * SWEEP_MIN_ATTRIBUTES - 2, 2, { msPerAttributeSeen: 0.05, reach: 64 })).toBe(0);
});
