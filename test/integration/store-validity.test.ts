/** StoreValidity against the real store: what nix-instantiate wrote is valid, a made-up path is not; another store is not read. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { StoreValidity, pageCacheKiB } from '../../src/nix/store-validity.js';

test('the paths a read-only sweep would keep are exactly those the store holds as valid', async () => {
  const expr = `derivation { name = "validity-${process.pid}-${Date.now()}"; system = "x86_64-linux"; builder = "/bin/sh"; }`;
  const written = (await execa('nix-instantiate', ['--expr', expr])).stdout.trim();
  const computed = JSON.parse((await execa('nix-instantiate', ['--eval', '--json', '--expr', `(${expr.replace('validity-', 'unwritten-')}).drvPath`])).stdout) as string;
  const validity = StoreValidity.open({ nixOptions: [] });
  expect(validity).toBeDefined();
  try {
    expect([...validity!.invalid([written, computed])]).toEqual([computed]);
    expect(validity!.invalid([])).toEqual(new Set());
  } finally {
    validity!.close();
  }
});

test('another store than the local one is not read: sweeps write there', () => {
  expect(StoreValidity.open({ nixOptions: [], evalStore: 'local?root=/tmp/elsewhere' })).toBeUndefined();
  expect(StoreValidity.open({ nixOptions: [['store', 'ssh://builder']] })).toBeUndefined();
  expect(StoreValidity.open({ nixOptions: [] }, { NIX_REMOTE: 'ssh-ng://builder' })).toBeUndefined();
  expect(StoreValidity.open({ nixOptions: [] }, { NIX_STATE_DIR: '/nonexistent/evix' })).toBeUndefined();
});

test('evaluators share one connection: closing one leaves the others reading, and the last close ends it', async () => {
  const written = (await execa('nix-instantiate', ['--expr', `derivation { name = "shared-${process.pid}"; system = "x86_64-linux"; builder = "/bin/sh"; }`])).stdout.trim();
  const first = StoreValidity.open({ nixOptions: [] })!;
  const second = StoreValidity.open({ nixOptions: [] })!;
  first.close();
  first.close();
  expect(() => first.invalid([written])).toThrow(/closed/);
  expect(second.invalid([written, `${written}x`])).toEqual(new Set([`${written}x`]));
  second.close();
  const again = StoreValidity.open({ nixOptions: [] })!;
  expect(again.invalid([written])).toEqual(new Set());
  again.close();
});

test('the page cache grows with the lookups, from 512 KiB to 8 MiB, and answers stay the same as it does', async () => {
  expect([0, 2047, 4096, 8192, 16384, 32768, 10 ** 6].map(pageCacheKiB)).toEqual([512, 512, 1024, 2048, 4096, 8192, 8192]);
  const expr = `derivation { name = "growing-${process.pid}-${Date.now()}"; system = "x86_64-linux"; builder = "/bin/sh"; }`;
  const written = (await execa('nix-instantiate', ['--expr', expr])).stdout.trim();
  const validity = StoreValidity.open({ nixOptions: [] })!;
  try {
    // Past every step: 20k lookups of each path, a line's worth at a time.
    const line = Array.from({ length: 256 }, (_, i) => (i % 2 === 0 ? written : `${written}x`));
    for (let i = 0; i < 160; i++) expect(validity.invalid(line)).toEqual(new Set([`${written}x`]));
  } finally {
    validity.close();
  }
});

test('a file that is not the store database, found readable, leaves every path missing, so sweeps write', async () => {
  const state = await mkdtemp(join(tmpdir(), 'evix-validity-'));
  try {
    await mkdir(join(state, 'db'));
    await writeFile(join(state, 'db', 'db.sqlite'), 'not a database');
    const validity = StoreValidity.open({ nixOptions: [] }, { NIX_STATE_DIR: state });
    expect(validity).toBeDefined();
    validity!.connect();
    expect(validity!.invalid(['/nix/store/a', '/nix/store/b'])).toEqual(new Set(['/nix/store/a', '/nix/store/b']));
    validity!.close();
    expect(() => validity!.invalid(['/nix/store/a'])).toThrow(/closed/);
  } finally {
    await rm(state, { recursive: true, force: true });
  }
});
