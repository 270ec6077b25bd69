/** --constituents: aggregates resolved and their .drv rewritten as nix-eval-jobs does, checked with Nix. */
import { execa } from 'execa';
import { describe, expect, test } from 'vitest';
import type { DerivationEvent } from '../../src/events.js';
import { FIXTURES, byAttr, derivations, errors, runCli } from '../helpers.js';

const FIXTURE = `${FIXTURES}/constituents.nix`;

async function showDerivation(drvPath: string): Promise<{ inputDrvs: Record<string, string[]>; outputs: Record<string, { path: string }>; env: Record<string, string> }> {
  const { stdout } = await execa('nix', ['--extra-experimental-features', 'nix-command', 'show-derivation', drvPath]);
  return (JSON.parse(stdout) as Record<string, never>)[drvPath]!;
}

describe('--constituents', async () => {
  const run = await runCli(['eval', '--file', FIXTURE, '--constituents']);
  const drvs = byAttr(derivations(run.events));
  const errs = byAttr(errors(run.events));
  const plain = byAttr(derivations((await runCli(['eval', '--file', FIXTURE])).events));
  const path = (attr: string) => drvs.get(attr)!.drvPath;

  async function expectRewritten(attr: string, constituents: string[]): Promise<void> {
    const event = drvs.get(attr)!;
    expect(event.constituents?.sort()).toEqual([...constituents].sort());
    expect(event.namedConstituents).toBeUndefined();
    expect(event.drvPath).not.toBe(plain.get(attr)!.drvPath);
    const shown = await showDerivation(event.drvPath);
    for (const c of constituents) expect(Object.keys(shown.inputDrvs)).toContain(c);
    expect(shown.outputs.out?.path).toBe(event.outputs.out);
    expect(shown.env.out).toBe(event.outputs.out);
  }

  test('the run completes and prints aggregates after the jobs they name', () => {
    expect(run.exitCode, run.stderr).toBe(0);
    const order = run.events.map((e) => e.attr);
    expect(order.indexOf('named')).toBeGreaterThan(order.indexOf('tests.one'));
    expect(order.indexOf('nested')).toBeGreaterThan(order.indexOf('named'));
  });

  test('constituents given as derivations', async () => {
    await expectRewritten('direct', [path('a'), path('b')]);
    const shown = await showDerivation(path('direct'));
    // The first output is added, as nix-eval-jobs does; the output the
    // aggregate already used stays (nix-eval-jobs would replace it, dropping
    // a dependency the aggregate's environment refers to).
    expect(shown.inputDrvs[path('b')]).toEqual(['doc', 'out']);
  });

  test('constituents named by job, and by glob', async () => {
    await expectRewritten('named', [path('a'), path('tests.one')]);
    await expectRewritten('globbed', [path('tests.one'), path('tests.two')]);
  });

  test('an aggregate naming another gets the rewritten .drv', async () => {
    await expectRewritten('nested', [path('a'), path('named')]);
    expect(path('named')).not.toBe(plain.get('named')!.drvPath);
  });

  test('missing, broken and cyclic constituents are errors on the aggregates concerned', () => {
    expect(errs.get('missing')?.error).toBe("constituent 'nope' does not exist");
    expect(errs.get('onBroken')?.error).toMatch(/^constituent 'broken' failed to evaluate: broken on purpose/);
    expect(errs.get('cycleA')?.error).toMatch(/^aggregate cycle: cycleA -> cycleB -> cycleA|^aggregate cycle: cycleB -> cycleA -> cycleB/);
    expect(errs.get('cycleB')?.error).toMatch(/^aggregate cycle/);
    for (const attr of ['missing', 'onBroken', 'cycleA', 'cycleB']) expect(drvs.has(attr)).toBe(false);
  });

  test('plain derivations are untouched', () => {
    for (const attr of ['a', 'b', 'tests.one']) expect(drvs.get(attr)).toEqual(plain.get(attr) as DerivationEvent);
  });
});
