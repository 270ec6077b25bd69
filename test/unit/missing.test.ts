import { expect, test } from 'vitest';
import { MissingPaths, type StoreQueries } from '../../src/cache-status/missing.js';

/**
 * A store as data: app depends on lib (output out) and on tool; valid,
 * substitutable (with references) and plain missing paths vary per test.
 */
function store(valid: string[], cached: Record<string, string[]>) {
  const calls = { invalid: 0, substitutable: 0, derivation: 0 };
  const drvs: Record<string, { outputs: Record<string, string>; inputDrvs: Record<string, string[]> }> = {
    '/d/app.drv': { outputs: { out: '/s/app' }, inputDrvs: { '/d/lib.drv': ['out'], '/d/tool.drv': ['bin'] } },
    '/d/lib.drv': { outputs: { out: '/s/lib', dev: '/s/lib-dev' }, inputDrvs: {} },
    '/d/tool.drv': { outputs: { bin: '/s/tool' }, inputDrvs: { '/d/lib.drv': ['out'] } },
  };
  const queries: StoreQueries = {
    invalid: async (paths) => {
      calls.invalid++;
      return new Set(paths.filter((p) => !valid.includes(p)));
    },
    substitutable: async (paths) => {
      calls.substitutable++;
      return new Map(paths.filter((p) => p in cached).map((p) => [p, cached[p]!]));
    },
    derivation: async (drvPath) => {
      calls.derivation++;
      return drvs[drvPath]!;
    },
  };
  return { queries, calls };
}

const app = { drvPath: '/d/app.drv', outputs: { out: '/s/app' } };
const lib = { drvPath: '/d/lib.drv', outputs: { out: '/s/lib', dev: '/s/lib-dev' } };

test('all outputs valid: local, nothing needed', async () => {
  const { queries } = store(['/s/app'], {});
  expect(await new MissingPaths(queries).statusOf([app])).toEqual([{ cacheStatus: 'local', isCached: true, neededBuilds: [], neededSubstitutes: [] }]);
});

test('substitutable with its references: cached, the downloads listed', async () => {
  const { queries } = store(['/s/glibc'], { '/s/app': ['/s/app', '/s/lib', '/s/glibc'], '/s/lib': [] });
  expect(await new MissingPaths(queries).statusOf([app])).toEqual([
    { cacheStatus: 'cached', isCached: true, neededBuilds: [], neededSubstitutes: ['/s/app', '/s/lib'] },
  ]);
});

test('not built: the derivation and the inputs that are missing too, substitutes for the rest', async () => {
  const { queries } = store([], { '/s/lib': [] });
  expect(await new MissingPaths(queries).statusOf([app])).toEqual([
    { cacheStatus: 'notBuilt', isCached: false, neededBuilds: ['/d/app.drv', '/d/tool.drv'], neededSubstitutes: ['/s/lib'] },
  ]);
});

test('a substitute whose reference no one has cannot be had: not built', async () => {
  const { queries } = store([], { '/s/app': ['/s/gone'] });
  const [status] = await new MissingPaths(queries).statusOf([app]);
  expect(status?.cacheStatus).toBe('notBuilt');
});

test('one batch asks the store once per level, and answers are remembered', async () => {
  const { queries, calls } = store([], {});
  const missing = new MissingPaths(queries);
  const [a, l] = await missing.statusOf([app, lib]);
  expect(a?.neededBuilds).toEqual(['/d/app.drv', '/d/lib.drv', '/d/tool.drv']);
  expect(l?.neededBuilds).toEqual(['/d/lib.drv']);
  expect(calls.invalid).toBeLessThanOrEqual(3);
  const before = { ...calls };
  await missing.statusOf([lib]);
  expect(calls).toEqual(before);
});
