import { expect, test } from 'vitest';
import { CYCLE_SKIPPED, globToRegExp, planAggregates, type Job } from '../../src/constituents/resolve.js';

const jobs = (...list: Job[]) => new Map(list.map((j) => [j.name, j]));
const agg = (name: string, named: string[], glob = false): Job => ({ name, drvPath: `/d/${name}.drv`, aggregate: { named, glob } });
const job = (name: string): Job => ({ name, drvPath: `/d/${name}.drv` });

test('glob patterns as fnmatch reads them', () => {
  expect(globToRegExp('tests.*').test('tests.unit')).toBe(true);
  expect(globToRegExp('tests.*').test('testsXunit')).toBe(false);
  expect(globToRegExp('*').test('a.b/c')).toBe(true);
  expect(globToRegExp('a?c').test('abc')).toBe(true);
  expect(globToRegExp('[ab]x').test('bx')).toBe(true);
  expect(globToRegExp('[!ab]x').test('bx')).toBe(false);
  expect(globToRegExp('x+y').test('x+y')).toBe(true);
  expect(globToRegExp('a\\*').test('a*')).toBe(true);
  expect(globToRegExp('a\\*').test('ab')).toBe(false);
});

test('aggregates come after the aggregates they name, otherwise by name', () => {
  const plan = planAggregates(jobs(job('a'), agg('outer', ['inner', 'a']), agg('inner', ['a']), agg('b', ['a'])));
  expect(plan.map((o) => o.name)).toEqual(['b', 'inner', 'outer']);
  expect(plan[2]).toEqual({ name: 'outer', members: ['a', 'inner'] });
});

test('globs match other jobs, never the aggregate itself', () => {
  const plan = planAggregates(jobs(job('t.a'), job('t.b'), job('u'), agg('t.all', ['t.*'], true)));
  expect(plan).toEqual([{ name: 't.all', members: ['t.a', 't.b'] }]);
});

test("a missing or broken constituent, or a pattern matching nothing that evaluated, is one line each in nix-eval-jobs' words", () => {
  const plan = planAggregates(
    jobs(
      { name: 'bad', error: 'error: boom' },
      job('ok'),
      agg('missing', ['nope', 'ok']),
      agg('onBad', ['bad']),
      agg('empty', ['z*'], true),
      agg('onlyBroken', ['ba*'], true),
    ),
  );
  expect(Object.fromEntries(plan.map((o) => [o.name, o.error]))).toEqual({
    empty: 'z*: constituent glob pattern had no matches\n',
    missing: 'nope: does not exist\n',
    onBad: 'bad: error: boom\n',
    onlyBroken: 'bad: error: boom\nba*: constituent glob pattern had no matches\n',
  });
  expect(plan.find((o) => o.name === 'missing')?.members).toEqual(['ok']);
});

test('a cycle fails its two ends and skips every other waiting aggregate', () => {
  const plan = planAggregates(jobs(job('a'), agg('x', ['y']), agg('y', ['x']), agg('z', ['a'])));
  expect(plan.map((o) => [o.name, o.error, o.inCycle ?? false])).toEqual([
    ['x', 'Dependency cycle: x <-> y', true],
    ['y', 'Dependency cycle: x <-> y', true],
    ['z', CYCLE_SKIPPED, false],
  ]);
});
