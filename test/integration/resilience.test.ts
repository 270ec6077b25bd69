/** Workers lose their nix child or pass the memory limit, a setup command is killed: nothing is lost. */
import { execa } from 'execa';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { LocalWorker } from '../../src/worker/local-worker.js';
import { FIXTURES, collect, config, derivationSet, derivations, errors, runCli } from '../helpers.js';

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

describe('a setup command of Nix killed by a signal', () => {
  /** `nix-instantiate` on PATH that SIGKILLs itself when asked to parse, `kills` times, then is the real one. */
  async function killingParse(kills: number): Promise<{ env: Record<string, string>; killed: () => Promise<number> }> {
    const bin = await mkdtemp(join(tmpdir(), 'evix-killed-parse-'));
    const real = (await execa('sh', ['-c', 'command -v nix-instantiate'])).stdout;
    const count = join(bin, 'kills');
    await writeFile(
      join(bin, 'nix-instantiate'),
      `#!/bin/sh\nif [ "$1" = --parse ] && [ "$(wc -c < ${count} 2>/dev/null || echo 0)" -lt ${kills} ]; then printf x >> ${count}; kill -9 $$; fi\nexec ${real} "$@"\n`,
      { mode: 0o755 },
    );
    const killed = async () => (await readFile(count, 'utf8').catch(() => '')).length;
    return { env: { PATH: `${bin}:${process.env.PATH}` }, killed };
  }
  const expr = '{ a = derivation { name = "killed-parse"; system = "x86_64-linux"; builder = "/bin/sh"; }; }';

  test('runs again, and the run goes on', async () => {
    const { env, killed } = await killingParse(1);
    const run = await runCli(['eval', '--expr', expr, '--workers', '1'], { env });
    expect(await killed()).toBe(1);
    expect(run.exitCode, run.stderr).toBe(0);
    expect(derivations(run.events).map((d) => d.name)).toEqual(['killed-parse']);
  });

  test('killed every time, fails the run saying so, not as a syntax error', async () => {
    const { env, killed } = await killingParse(100);
    const run = await runCli(['eval', '--expr', expr, '--workers', '1'], { env });
    expect(await killed()).toBe(3);
    expect(run.exitCode).not.toBe(0);
    expect(run.stderr).toMatch(/nix-instantiate was killed by SIGKILL/);
    expect(run.stderr).not.toMatch(/syntax|unexpected/);
  });
});
