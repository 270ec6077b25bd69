/** The cache's store on its own (SQLite in a temporary directory): keys, replacement, isolation. */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { EvalCache, cacheKey, type CacheIdentity } from '../../src/cache/eval-cache.js';
import type { EvalEvent } from '../../src/events.js';
import { config } from '../helpers.js';

const identity: CacheIdentity = { locked: { narHash: 'sha256-a' }, locks: { nodes: {} }, nixVersion: '2.8.0', system: 'x86_64-linux' };
const flake = config({ kind: 'flake', ref: '/src#hydraJobs' });
const attrs = (...names: string[]): EvalEvent => ({ attr: '', attrPath: [], attrs: names });

test('the key covers what results depend on, and not where or with how much memory', () => {
  const key = cacheKey(flake, identity);
  expect(cacheKey({ ...flake, workdir: '/elsewhere', maxMemoryMiB: 1 }, identity)).toBe(key);
  expect(cacheKey({ ...flake, meta: !flake.meta }, identity)).not.toBe(key);
  expect(cacheKey(flake, { ...identity, locked: { narHash: 'sha256-b' } })).not.toBe(key);
  expect(cacheKey(flake, { ...identity, system: 'aarch64-linux' })).not.toBe(key);
  expect(cacheKey(flake, { ...identity, nixVersion: '2.9.0' })).not.toBe(key);
});

test('the key has the input in one spelling: a relative flake is its directory', () => {
  expect(cacheKey({ ...flake, input: { kind: 'flake', ref: '.#hydraJobs' }, workdir: '/src' }, identity)).toBe(cacheKey(flake, identity));
  expect(cacheKey({ ...flake, input: { kind: 'flake', ref: '.#hydraJobs' }, workdir: '/other' }, identity)).not.toBe(cacheKey(flake, identity));
});

test('a walk is replayed in order; saving a key again replaces it; other keys are untouched', () => {
  const directory = mkdtempSync(join(tmpdir(), 'evix-cache-store-'));
  const [a, b] = [cacheKey(flake, identity), cacheKey(flake, { ...identity, system: 'aarch64-linux' })];
  const store = new EvalCache(directory);
  expect(store.lookup(a)).toBeUndefined();
  store.save(a, [attrs('x', 'y'), attrs('z')]);
  store.save(b, [attrs('other')]);
  store.save(a, [attrs('new')]);
  store.close();
  // Another process's view: a fresh connection to the same file.
  const reopened = new EvalCache(directory);
  expect(reopened.lookup(a)).toEqual([attrs('new')]);
  expect(reopened.lookup(b)).toEqual([attrs('other')]);
  reopened.close();
});
