/** --constituents: aggregates resolved and their .drv rewritten as nix-eval-jobs does, checked with Nix. */
import { describe, expect, test } from 'vitest';
import type { DerivationEvent } from '../../src/events.js';
import { FIXTURES, byAttr, derivations, errors, runCli, showDerivations } from '../helpers.js';

const FIXTURE = `${FIXTURES}/constituents.nix`;

const showDerivation = async (drvPath: string) => (await showDerivations([drvPath])).get(drvPath)!;

// A cycle stops every aggregate (see below), so the others are checked without one.
const WITHOUT_CYCLE = 'r: removeAttrs r [ "cycleA" "cycleB" ]';

describe('--constituents', async () => {
  const run = await runCli(['eval', '--file', FIXTURE, '--select', WITHOUT_CYCLE, '--constituents']);
  const drvs = byAttr(derivations(run.events));
  const errs = byAttr(errors(run.events));
  const plain = byAttr(derivations((await runCli(['eval', '--file', FIXTURE, '--select', WITHOUT_CYCLE])).events));
  const path = (attr: string) => drvs.get(attr)!.drvPath;

  async function expectRewritten(attr: string, constituents: string[]): Promise<void> {
    const event = drvs.get(attr)!;
    expect(event.constituents?.sort()).toEqual([...constituents].sort());
    expect(event.namedConstituents).toBeUndefined();
    expect(event.drvPath).not.toBe(plain.get(attr)!.drvPath);
    const shown = await showDerivation(event.drvPath);
    for (const c of constituents) expect(Object.keys(shown.inputDrvs)).toContain(c);
    expect(shown.outputs.out).toBe(event.outputs.out);
    expect(shown.env.out).toBe(event.outputs.out);
  }

  test('the run completes and prints aggregates after the jobs they name', () => {
    expect(run.exitCode, run.stderr).toBe(0);
    const order = run.events.map((e) => e.attr);
    expect(order.indexOf('named')).toBeGreaterThan(order.indexOf('tests.one'));
    expect(order.indexOf('nested')).toBeGreaterThan(order.indexOf('named'));
  });

  test('constituents given as derivations only: printed at once, as they are', async () => {
    expect(drvs.get('direct')).toEqual(plain.get('direct'));
    // Sorted by store path, as nix-eval-jobs lists them.
    expect(drvs.get('direct')!.constituents).toEqual([path('a'), path('b')].sort());
    const shown = await showDerivation(path('direct'));
    expect(Object.keys(shown.inputDrvs).sort()).toEqual([path('a'), path('b')].sort());
  });

  test('constituents named by job, and by glob', async () => {
    await expectRewritten('named', [path('a'), path('tests.one')]);
    await expectRewritten('globbed', [path('tests.one'), path('tests.two')]);
  });

  test('an aggregate naming another gets the rewritten .drv', async () => {
    await expectRewritten('nested', [path('a'), path('named')]);
    expect(path('named')).not.toBe(plain.get('named')!.drvPath);
  });

  test("missing and broken constituents are errors on the aggregates concerned, in nix-eval-jobs' words", () => {
    expect(errs.get('missing')?.error).toBe('nope: does not exist\n');
    expect(errs.get('onBroken')?.error).toBe('broken: error: broken on purpose\n');
    for (const attr of ['missing', 'onBroken']) expect(drvs.has(attr)).toBe(false);
  });

  test('a cycle fails its two ends and skips every other aggregate that names constituents', async () => {
    const cyclic = await runCli(['eval', '--file', FIXTURE, '--constituents']);
    expect(cyclic.exitCode).toBe(0);
    const failed = byAttr(errors(cyclic.events));
    expect(failed.get('cycleA')?.error).toBe('Dependency cycle: cycleA <-> cycleB');
    expect(failed.get('cycleB')?.error).toBe('Dependency cycle: cycleA <-> cycleB');
    for (const attr of ['named', 'globbed', 'nested', 'missing', 'onBroken']) expect(failed.get(attr)?.error).toBe('Skipping aggregate because of a dependency cycle');
    expect(byAttr(derivations(cyclic.events)).get('direct')).toEqual(drvs.get('direct'));
  });

  test('plain derivations are untouched', () => {
    for (const attr of ['a', 'b', 'tests.one']) expect(drvs.get(attr)).toEqual(plain.get(attr) as DerivationEvent);
  });
});
