/**
 * The Evaluator answering chunks with real Nix: a chunk gives exactly what
 * asking for each attribute alone gives (the same derivations, the same
 * error texts on the same attributes), whatever fails inside it.
 */
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { completeConfig, type EvalConfig, type WorkerConfig } from '../../src/config.js';
import { isAttrsetEvent, type WorkResult } from '../../src/events.js';
import { silentLogger } from '../../src/log.js';
import type { AttrPath } from '../../src/nix/syntax.js';
import { Evaluator } from '../../src/worker/evaluator.js';
import { unstreamed } from '../helpers.js';

const fixture = (name: string) => fileURLToPath(new URL(`../fixtures/${name}`, import.meta.url));
const JOBS = fixture('jobs.nix');
const WIDE = fixture('wide.nix');

const evaluators: Evaluator[] = [];
afterEach(async () => {
  await Promise.all(evaluators.splice(0).map((e) => e.close()));
});

async function started(path: string, overrides: Partial<EvalConfig> = {}): Promise<Evaluator> {
  const config: WorkerConfig = { ...completeConfig({ input: { kind: 'file', path }, ...overrides }), input: { kind: 'file', path } };
  const evaluator = new Evaluator(config, silentLogger);
  evaluators.push(evaluator);
  await evaluator.start();
  return evaluator;
}

async function alone(evaluator: Evaluator, path: AttrPath): Promise<WorkResult> {
  const { results } = await evaluator.evaluate([{ kind: 'path', path }], 1, unstreamed);
  expect(results).toHaveLength(1);
  return results[0]!;
}

/** Every result under `path`, each attribute asked for alone. */
async function walkAlone(evaluator: Evaluator, path: AttrPath): Promise<WorkResult[]> {
  const result = await alone(evaluator, path);
  const below = isAttrsetEvent(result) ? await Promise.all(result.attrs.map((name) => walkAlone(evaluator, [...path, name]))) : [];
  return [result, ...below.flat()];
}

/** Results comparable as a set: sorted lines, without the walking flag. */
function normalised(results: WorkResult[]): string[] {
  return results.map((r) => JSON.stringify(isAttrsetEvent(r) ? { ...r, childrenAnswered: undefined } : r)).sort();
}

describe('the main fixture as one chunk', async () => {
  const evaluator = await started(JOBS, { meta: true, showInputDrvs: true });
  const root = await alone(evaluator, []);
  if (!isAttrsetEvent(root)) throw new Error('the root is not a set');
  const { results } = await evaluator.evaluate([{ kind: 'siblings', parent: [], from: 0, names: root.attrs }], 64, unstreamed);
  const aloneResults = (await Promise.all(root.attrs.map((name) => walkAlone(evaluator, [name])))).flat();

  test('gives what asking for each attribute alone gives, errors included', () => {
    expect(normalised(results)).toEqual(normalised(aloneResults));
    // Every kind of failure is in there: tryEval catches throw and assert, not the others.
    const failed = results.filter((r) => 'error' in r).map((r) => r.attrPath.join('.'));
    expect(failed.sort()).toEqual(['aborts', 'asserts', 'infinite', 'missing', 'stackOverflow', 'throws', 'typeError']);
  });

  test('walks into the small sets it holds and says so', () => {
    const nested = results.find((r) => r.attrPath.join('.') === 'nested');
    expect(nested).toMatchObject({ attrs: ['deeper', 'inner', 'notRecursed'], childrenAnswered: true });
    expect(results.filter((r) => r.attrPath.join('.') === 'nested.deeper.leaf')).toHaveLength(1);
  });
});

test('a budget no larger than the chunk walks into nothing', async () => {
  const evaluator = await started(WIDE, { autoArgs: [{ name: 'count', kind: 'expr', value: '40' }] });
  const names = ['g0', 'g1', 'g2', 'g3'];
  const { results } = await evaluator.evaluate([{ kind: 'siblings', parent: [], from: 0, names }], 4, unstreamed);
  expect(results.map((r) => r.attrPath)).toEqual(names.map((n) => [n]));
  expect(results.every((r) => isAttrsetEvent(r) && r.childrenAnswered === undefined)).toBe(true);

  const walked = (await evaluator.evaluate([{ kind: 'siblings', parent: [], from: 0, names }], 44, unstreamed)).results;
  expect(walked).toHaveLength(44);
});

test('siblings are found by position in any set, and a range may start anywhere', async () => {
  const evaluator = await started(WIDE, { autoArgs: [{ name: 'count', kind: 'expr', value: '40' }] });
  const { results } = await evaluator.evaluate(
    [
      { kind: 'siblings', parent: ['g1'], from: 3, names: ['d3', 'd4'] },
      { kind: 'path', path: ['g2', 'd9'] },
      { kind: 'siblings', parent: ['g3'], from: 9, names: ['d9'] },
    ],
    3,
    unstreamed,
  );
  expect(results.map((r) => 'name' in r && r.name).sort()).toEqual(['wide-13', 'wide-14', 'wide-29', 'wide-39']);
});

test('names that disagree with the evaluator\'s set are answered by name, never by position', async () => {
  const evaluator = await started(WIDE, { autoArgs: [{ name: 'count', kind: 'expr', value: '40' }] });
  // Positions 0 and 1 of g0 hold d0 and d1; the master claims d5 and d6 sit there.
  const { results } = await evaluator.evaluate([{ kind: 'siblings', parent: ['g0'], from: 0, names: ['d5', 'd6'] }], 2, unstreamed);
  expect(results.map((r) => [r.attrPath.join('.'), 'name' in r && r.name])).toEqual([
    ['g0.d5', 'wide-5'],
    ['g0.d6', 'wide-6'],
  ]);
});
