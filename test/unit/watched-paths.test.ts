import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { completeConfig } from '../../src/config.js';
import { NotWatchable, localFlakeDirectory, watchedPaths } from '../../src/session/watched-paths.js';

test('local flake references and remote ones', () => {
  expect(localFlakeDirectory('.#hydraJobs', '/work')).toBe('/work');
  expect(localFlakeDirectory('./sub#x', '/work')).toBe('/work/sub');
  expect(localFlakeDirectory('/abs/flake', '/work')).toBe('/abs/flake');
  expect(localFlakeDirectory('path:/abs?narHash=x#y', '/work')).toBe('/abs');
  expect(localFlakeDirectory('git+file:///repo?ref=main', '/work')).toBe('/repo');
  expect(localFlakeDirectory('github:NixOS/nixpkgs', '/work')).toBeUndefined();
  expect(localFlakeDirectory('nixpkgs#hello', '/work')).toBeUndefined();
});

test('a flake is watched with the path inputs of its lock', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-watched-'));
  await writeFile(
    join(dir, 'flake.lock'),
    JSON.stringify({ nodes: { dep: { locked: { type: 'path', path: '/elsewhere/dep' } }, gh: { locked: { type: 'github', owner: 'o' } }, root: {} }, root: 'root', version: 7 }),
  );
  expect(await watchedPaths(completeConfig({ input: { kind: 'flake', ref: `${dir}#jobs` } }))).toEqual([dir, '/elsewhere/dep']);
  expect(await watchedPaths(completeConfig({ input: { kind: 'file', path: 'jobs/x.nix' }, workdir: '/w' }))).toEqual(['/w/jobs']);
  await expect(watchedPaths(completeConfig({ input: { kind: 'expr', expr: '{}' } }))).rejects.toThrow(NotWatchable);
});
