/**
 * Sweeps with real Nix: a sweep answers exactly what asking the repl for
 * each attribute alone answers (the same derivations, the same error texts
 * on the same attributes), whether the store has the .drv files (a
 * read-only sweep) or not (it finds them missing and sweeps again with
 * writes), and whatever kills a sweep on the way.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, test } from 'vitest';
import { completeConfig, type WorkerConfig } from '../../src/config.js';
import { isAttrsetEvent, isDerivationEvent, type WorkResult } from '../../src/events.js';
import { silentLogger, type Logger } from '../../src/log.js';
import type { AttrPath } from '../../src/nix/syntax.js';
import { Evaluator } from '../../src/worker/evaluator.js';
import { runCli, unstreamed } from '../helpers.js';

const SWEEP = fileURLToPath(new URL('../fixtures/sweep.nix', import.meta.url));

const evaluators: Evaluator[] = [];
afterEach(async () => {
  await Promise.all(evaluators.splice(0).map((e) => e.close()));
});

/** A logger that keeps the fields of every debug message it is given. */
function recordingLogger(messages: Array<{ msg: string; fields: Record<string, unknown> }>): Logger {
  const log = (fields: unknown, msg?: string) => {
    if (typeof fields === 'string') messages.push({ msg: fields, fields: {} });
    else messages.push({ msg: msg ?? '', fields: fields as Record<string, unknown> });
  };
  const logger: Logger = { error: log, warn: log, info: log, debug: log, child: () => logger };
  return logger;
}

function evaluatorFor(seed: string, log: Logger = silentLogger): Evaluator {
  const input = { kind: 'file' as const, path: SWEEP };
  const config: WorkerConfig = { ...completeConfig({ input, autoArgs: [{ name: 'seed', kind: 'string', value: seed }] }), input };
  const evaluator = new Evaluator(config, log);
  evaluators.push(evaluator);
  return evaluator;
}

async function alone(evaluator: Evaluator, path: AttrPath): Promise<WorkResult> {
  const { results } = await evaluator.evaluate([{ kind: 'path', path }], 1, unstreamed);
  return results[0]!;
}

/** Every result under `path`, each attribute asked for alone. */
async function walkAlone(evaluator: Evaluator, path: AttrPath): Promise<WorkResult[]> {
  const result = await alone(evaluator, path);
  const below = isAttrsetEvent(result) ? await Promise.all(result.attrs.map((name) => walkAlone(evaluator, [...path, name]))) : [];
  return [result, ...below.flat()];
}

/**
 * The root's children swept: every result, delivered or in the outcome,
 * and those of what the sweep left to chunks, answered as the master would
 * have them answered (a chunk, then each set it did not walk).
 */
async function swept(evaluator: Evaluator): Promise<WorkResult[]> {
  const root = await alone(evaluator, []);
  if (!isAttrsetEvent(root)) throw new Error('the root is not a set');
  const delivered: WorkResult[] = [];
  const { results, left } = await evaluator.sweep([{ kind: 'siblings', parent: [], from: 0, names: root.attrs }], (r) => void delivered.push(...r));
  const chunked = left.length > 0 ? (await evaluator.evaluate(left, 64, unstreamed)).results : [];
  const below = await Promise.all(
    chunked.filter((r) => isAttrsetEvent(r) && !r.childrenAnswered).flatMap((set) => (set as { attrs: string[] }).attrs.map((name) => walkAlone(evaluator, [...set.attrPath, name]))),
  );
  return [...delivered, ...results, ...chunked, ...below.flat()];
}

function normalised(results: WorkResult[]): string[] {
  return results.map((r) => JSON.stringify(isAttrsetEvent(r) ? { ...r, childrenAnswered: undefined } : r)).sort();
}

const unique = () => `${process.pid}x${Date.now()}`;

describe('a sweep over derivations the store does not have', async () => {
  const messages: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const seed = unique();
  const sweeping = evaluatorFor(seed, recordingLogger(messages));
  const results = await swept(sweeping);
  const expected = (await walkAlone(evaluatorFor(seed), [])).slice(1);

  test('gives what asking for each attribute alone gives, errors included', () => {
    expect(results.length).toBe(1500 + 1 + 300 + 1 + 40 + 4);
    expect(normalised(results)).toEqual(normalised(expected));
    const failed = results.filter((r) => 'error' in r).map((r) => r.attrPath.join('.'));
    expect(failed.sort()).toEqual(['aborts', 'throws', 'typeError']);
  });

  test('writes every .drv it reports, after finding the first ones missing', () => {
    const drvs = results.filter(isDerivationEvent);
    expect(drvs.length).toBe(1840);
    expect(drvs.every((d) => existsSync(d.drvPath))).toBe(true);
    const sweeps = messages.filter((m) => m.msg === 'sweeping').map((m) => m.fields['writes']);
    expect(sweeps[0]).toBe(false);
    expect(sweeps).toContain(true);
  });

  test('survives the abort and the type error that end sweeps', () => {
    expect(messages.filter((m) => m.msg.startsWith('sweep died')).length).toBeGreaterThanOrEqual(1);
  });
});

describe('a sweep over derivations the store has', async () => {
  const seed = unique();
  const expected = await walkAlone(evaluatorFor(seed), []);
  const messages: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const results = await swept(evaluatorFor(seed, recordingLogger(messages)));

  test('reads them without writing and gives the same answer', () => {
    expect(normalised(results)).toEqual(normalised(expected.slice(1)));
    const sweeps = messages.filter((m) => m.msg === 'sweeping').map((m) => m.fields['writes']);
    expect(sweeps.length).toBeGreaterThan(0);
    expect(sweeps.every((writes) => writes === false)).toBe(true);
  });

  test('leaves to chunks only the attribute whose error tryEval caught, not the rest of its group', async () => {
    const evaluator = evaluatorFor(seed);
    const root = await alone(evaluator, []);
    if (!isAttrsetEvent(root)) throw new Error('the root is not a set');
    // Without the two errors that end a sweep, so that one sweep describes every group: a range is positions in the root's sorted names.
    expect([root.attrs[0], root.attrs.at(-1)]).toEqual(['aborts', 'typeError']);
    const names = root.attrs.slice(1, -1);
    const delivered: WorkResult[] = [];
    const { results, left } = await evaluator.sweep([{ kind: 'siblings', parent: [], from: 1, names }], (r) => void delivered.push(...r));
    expect(left.flatMap((unit) => (unit.kind === 'siblings' ? unit.names : []))).toEqual(['throws']);
    expect(delivered.length + results.length).toBe(expected.length - 1 - 3);
  });
});

test('a read-only sweep counts derivations, not sets, before it decides the store lacks them', async () => {
  // Sets of one fresh derivation each: half of all the attributes a sweep
  // describes are sets, so counting those too would never find most missing.
  const seed = unique();
  const expr = `builtins.listToAttrs (builtins.genList (i: { name = "s\${toString i}"; value = { recurseForDerivations = true; d = derivation { name = "sets${seed}-\${toString i}"; system = "x86_64-linux"; builder = "/bin/sh"; }; }; }) 1200)`;
  const input = { kind: 'expr' as const, expr };
  const messages: Array<{ msg: string; fields: Record<string, unknown> }> = [];
  const evaluator = new Evaluator({ ...completeConfig({ input }), input }, recordingLogger(messages));
  evaluators.push(evaluator);
  const root = await alone(evaluator, []);
  if (!isAttrsetEvent(root)) throw new Error('the root is not a set');
  const writes = async (names: string[]) => {
    const from = messages.length;
    const delivered: WorkResult[] = [];
    const { results, left } = await evaluator.sweep([{ kind: 'siblings', parent: [], from: root.attrs.indexOf(names[0]!), names }], (r) => void delivered.push(...r));
    expect(left).toEqual([]);
    expect([...delivered, ...results].filter(isDerivationEvent)).toHaveLength(names.length);
    return messages.slice(from).filter((m) => m.msg === 'sweeping').map((m) => m.fields['writes']);
  };
  // The first finds the store lacking them and switches; the next writes from the start.
  expect((await writes(root.attrs.slice(0, 600)))[0]).toBe(false);
  expect(await writes(root.attrs.slice(600))).toEqual([true]);
});

test('evix eval sweeps a large set with two workers and gives every derivation nix-instantiate gives', async () => {
  const seed = unique();
  const run = await runCli(['eval', '-vv', '--log-format', 'json', '--no-daemon', '--workers', '2', '--file', SWEEP, '--argstr', 'seed', seed]);
  expect(run.exitCode).toBe(0);
  const sweeps = run.stderr.split('\n').filter((line) => line.includes('"msg":"sweeping"'));
  expect(sweeps.length).toBeGreaterThan(0);
  const drvPaths = run.stdout.trim().split('\n').map((line) => JSON.parse(line) as { attr: string; drvPath?: string });
  const byAttr = new Map(drvPaths.filter((e) => e.drvPath).map((e) => [e.attr, e.drvPath]));
  expect(byAttr.size).toBe(1840);
  // nix-instantiate stops at the first error, so ask it for the sets that have none.
  const { execa } = await import('execa');
  for (const attr of ['nested', 'd7', 'd1499', 'nested.deeper.x3']) {
    const expectedPaths = (await execa('nix-instantiate', [SWEEP, '--argstr', 'seed', seed, '-A', attr])).stdout.trim().split('\n').sort();
    const prefix = `${attr}.`;
    const ours = [...byAttr].filter(([a]) => a === attr || a.startsWith(prefix)).map(([, p]) => p).sort();
    expect(ours).toEqual(expectedPaths);
  }
});
