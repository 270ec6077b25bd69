/** --check-cache-status against the local store and a real binary cache (file://). */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { FIXTURES, byAttr, derivations, runCli } from '../helpers.js';

const FIXTURE = `${FIXTURES}/cache-status.nix`;
const NIX = ['--extra-experimental-features', 'nix-command'];

test('local, cached and notBuilt derivations each come out right', async () => {
  const salt = `s${process.pid}${Date.now()}`;
  const cache = await mkdtemp(join(tmpdir(), 'evix-cache-'));
  const instantiate = async (attr: string) => (await execa('nix-instantiate', [FIXTURE, '--argstr', 'salt', salt, '-A', attr])).stdout.trim();
  const realise = async (drv: string) => (await execa('nix-store', ['--realise', drv])).stdout.trim();

  await realise(await instantiate('local'));
  const cachedOut = await realise(await instantiate('cached'));
  await execa('nix', [...NIX, 'copy', '--to', `file://${cache}`, cachedOut]);
  await execa('nix-store', ['--delete', cachedOut]);

  const run = await runCli(['eval', '--file', FIXTURE, '--argstr', 'salt', salt, '--check-cache-status', '--option', 'substituters', `file://${cache}`, '--option', 'require-sigs', 'false']);
  expect(run.exitCode, run.stderr).toBe(0);
  const drvs = byAttr(derivations(run.events));
  expect(drvs.get('local')).toMatchObject({ cacheStatus: 'local', isCached: true, neededBuilds: [], neededSubstitutes: [] });
  expect(drvs.get('cached')).toMatchObject({ cacheStatus: 'cached', isCached: true, neededBuilds: [], neededSubstitutes: [cachedOut] });
  const notBuilt = drvs.get('notBuilt')!;
  expect(notBuilt).toMatchObject({ cacheStatus: 'notBuilt', isCached: false, neededSubstitutes: [cachedOut] });
  expect(notBuilt.neededBuilds).toEqual([drvs.get('dep')!.drvPath, notBuilt.drvPath].sort());

  // Nix agrees: what a dry run of the not-built one would build and fetch.
  const dry = await execa('nix-store', ['--realise', '--dry-run', notBuilt.drvPath, '--option', 'substituters', `file://${cache}`, '--option', 'require-sigs', 'false']);
  for (const drv of notBuilt.neededBuilds!) expect(dry.stderr).toContain(drv);
  expect(dry.stderr).toContain(cachedOut);

  // Without the flag, none of it.
  const plain = await runCli(['eval', '--file', FIXTURE, '--argstr', 'salt', salt]);
  expect(derivations(plain.events).every((d) => d.cacheStatus === undefined)).toBe(true);
});
