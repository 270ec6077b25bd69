/** Workers lose their nix child or pass the memory limit: nothing is lost. */
import { expect, test } from 'vitest';
import type { LocalWorker } from '../../src/worker/local-worker.js';
import { FIXTURES, collect, config, derivationSet, derivations, errors } from '../helpers.js';

const wide = (count: number) =>
  config({ kind: 'file', path: `${FIXTURES}/wide.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: String(count) }] });
const slow = (count: number) =>
  config({ kind: 'file', path: `${FIXTURES}/slow.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: String(count) }] });

test('a nix child killed with SIGKILL mid-run loses no attribute', async () => {
  const reference = await collect(wide(300), 1);
  let workers: readonly LocalWorker[] = [];
  let seen = 0;
  const killed: number[] = [];
  const run = await collect(wide(300), 2, {
    onWorkers: (w) => (workers = w),
    onEvent: () => {
      seen++;
      if (seen !== 40 && seen !== 150) return;
      // Whatever evaluates now, a sweep or a repl, on the last worker that has one.
      const pid = workers.map((w) => w.childPid).findLast((p) => p !== undefined);
      if (pid === undefined) return;
      process.kill(pid, 'SIGKILL');
      killed.push(pid);
    },
  });
  expect(killed).toHaveLength(2);
  expect(run.fatal).toBeUndefined();
  expect(errors(run.events)).toEqual([]);
  expect(derivations(run.events)).toHaveLength(300);
  expect(derivationSet(run.events)).toEqual(derivationSet(reference.events));
});

test('a --max-memory smaller than the run needs restarts the evaluators and the output is still complete', async () => {
  // What one evaluator holds after 10 of these items, on this machine's Nix.
  const tenItems = await collect(slow(10), 1);
  const limit = tenItems.memory!.peakMiB;
  const reference = await collect(slow(90), 1);
  let locals: readonly LocalWorker[] = [];
  const run = await collect({ ...slow(90), maxMemoryMiB: limit }, 2, { onWorkers: (workers) => (locals = workers) });
  // Each evaluator passes the limit about every 10 items: 9 restarts or so,
  // fewer when the full suite's load makes the 10-item reading high (once just 1 in 60 items).
  expect(locals.reduce((sum, w) => sum + w.restarts, 0)).toBeGreaterThanOrEqual(3);
  expect(run.fatal).toBeUndefined();
  expect(errors(run.events)).toEqual([]);
  expect(derivationSet(run.events)).toEqual(derivationSet(reference.events));
});
