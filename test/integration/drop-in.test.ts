/** What a nix-eval-jobs consumer needs: system features, --select, --apply, its output format, progress. */
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { CLI, FIXTURES, byAttr, collect, config, derivations, errors, runCli, showDerivations } from '../helpers.js';

const DROPIN = `${FIXTURES}/dropin.nix`;
const select = 'root: root.hydraJobs';

test('requiredSystemFeatures is on every derivation, as the .drv records it', async () => {
  const { events } = await collect(config({ kind: 'file', path: DROPIN }, { select }));
  const drvs = byAttr(derivations(events));
  expect(drvs.get('plain')?.requiredSystemFeatures).toEqual([]);
  expect(drvs.get('vm')?.requiredSystemFeatures).toEqual(['kvm', 'nixos-test']);
  expect(drvs.get('big')?.requiredSystemFeatures).toEqual(['big-parallel', 'benchmark']);
  const shown = await showDerivations([drvs.get('vm')!.drvPath, drvs.get('big')!.drvPath]);
  expect(shown.get(drvs.get('vm')!.drvPath)!.env.requiredSystemFeatures).toBe('kvm nixos-test');
  expect(shown.get(drvs.get('big')!.drvPath)!.env.requiredSystemFeatures).toBe('big-parallel  benchmark');
});

test('--select picks the root; --apply adds extraValue to each derivation', async () => {
  const { events } = await collect(config({ kind: 'file', path: DROPIN }, { select, apply: 'drv: { name = drv.name; version = drv.version or null; }' }));
  const drvs = byAttr(derivations(events));
  expect([...drvs.keys()].sort()).toEqual(['"a.b".c', 'big', 'plain', 'versioned', 'vm']);
  expect(drvs.get('versioned')?.extraValue).toEqual({ name: 'versioned', version: '1.2' });
  expect(drvs.get('plain')?.extraValue).toEqual({ name: 'plain', version: null });
  const bad = await runCli(['eval', '--file', DROPIN, '--select', 'root: root.']);
  expect(bad.exitCode).toBe(1);
  expect(bad.stderr).toMatch(/^evix: --select: syntax error/);
});

test('--output-format nix-eval-jobs prints only derivation and error lines, as nix-eval-jobs does', async () => {
  const run = await runCli(['eval', '--file', DROPIN, '--select', select, '--output-format', 'nix-eval-jobs']);
  expect(run.exitCode).toBe(0);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(lines.some((l) => 'attrs' in l)).toBe(false);
  expect(lines.find((l) => 'error' in l)).toEqual({ attr: 'broken', attrPath: ['broken'], error: 'error: broken job' });
  const dotted = lines.find((l) => l.name === 'dotted')!;
  expect(dotted.attr).toBe('"a.b".c');
  expect(Object.keys(dotted).sort()).toEqual(['attr', 'attrPath', 'drvPath', 'name', 'outputs', 'requiredSystemFeatures', 'system']);
  const wrong = await runCli(['eval', '--file', DROPIN, '--output-format', 'yaml']);
  expect(wrong.exitCode).toBe(2);
});

test('a progress line is drawn on a terminal and erased; nothing when stderr is not one', async () => {
  // Attributes of a few milliseconds each, so that the run lasts past the first draw (100 ms) on a fast machine too.
  const command = `${CLI} eval --file ${FIXTURES}/slow.nix --arg work 80000 --workers 2 > /dev/null`;
  const tty = await execa('script', ['-qec', command, '/dev/null'], { reject: false });
  expect(tty.exitCode).toBe(0);
  expect(tty.stdout).toMatch(/evix: \d+ done · \d+ queued · 0 errors · \d+\/s · \d\/2 workers busy/);
  expect(tty.stdout.trimEnd().endsWith('\x1b[K')).toBe(true);
  const piped = await runCli(['eval', '--file', `${FIXTURES}/wide.nix`, '--arg', 'count', '300']);
  expect(piped.stderr).toBe('');
  expect(errors(piped.events)).toEqual([]);
});
