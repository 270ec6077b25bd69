import { expect, test } from 'vitest';
import { globToRegExp, planAggregates, type Job } from '../../src/constituents/resolve.js';

const jobs = (...list: Job[]) => new Map(list.map((j) => [j.name, j]));
const agg = (name: string, named: string[], glob = false, constituents: string[] = []): Job => ({ name, drvPath: `/d/${name}.drv`, aggregate: { constituents, named, glob } });
const job = (name: string): Job => ({ name, drvPath: `/d/${name}.drv` });

test('glob patterns as fnmatch reads them', () => {
  expect(globToRegExp('tests.*').test('tests.unit')).toBe(true);
  expect(globToRegExp('tests.*').test('testsXunit')).toBe(false);
  expect(globToRegExp('a?c').test('abc')).toBe(true);
  expect(globToRegExp('[ab]x').test('bx')).toBe(true);
  expect(globToRegExp('[!ab]x').test('bx')).toBe(false);
  expect(globToRegExp('x+y').test('x+y')).toBe(true);
});

test('aggregates come after the aggregates they name', () => {
  const plan = planAggregates(jobs(job('a'), agg('outer', ['inner', 'a']), agg('inner', ['a'])));
  expect(plan.order.map((o) => o.name)).toEqual(['inner', 'outer']);
  expect(plan.order[1]?.namedJobs).toEqual(['inner', 'a']);
  expect(plan.failed.size).toBe(0);
});

test('globs match other jobs, never the aggregate itself', () => {
  const plan = planAggregates(jobs(job('t.a'), job('t.b'), job('u'), agg('t.all', ['t.*'], true)));
  expect(plan.order[0]?.namedJobs).toEqual(['t.a', 't.b']);
});

test('failures: missing, broken, empty pattern, cycles, and what depends on them', () => {
  const plan = planAggregates(
    jobs(
      { name: 'bad', error: 'boom\nmore' },
      agg('missing', ['nope']),
      agg('onBad', ['bad']),
      agg('empty', ['z*'], true),
      agg('x', ['y']),
      agg('y', ['x']),
      agg('needsMissing', ['missing']),
    ),
  );
  expect(plan.order).toEqual([]);
  expect(Object.fromEntries(plan.failed)).toEqual({
    missing: "constituent 'nope' does not exist",
    onBad: "constituent 'bad' failed to evaluate: boom",
    empty: "constituent pattern 'z*' matches no job",
    x: 'aggregate cycle: x -> y -> x',
    y: 'aggregate cycle: x -> y -> x',
    needsMissing: "constituent 'missing' failed: constituent 'nope' does not exist",
  });
});
