/**
 * What evix puts in the environment of its Nix children (src/nix/environment.ts),
 * read back by the evaluation itself. A sweep answers a derivation only
 * once its .drv is valid, so the one it answers is written first and
 * carries the variable in its meta; an error (which a sweep leaves to a
 * chunk, so the repl evaluates it) carries it in its text.
 */
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { derivations, errors, runCli } from '../helpers.js';

const PROBE = 'derivation { name = "heap-probe"; system = "x86_64-linux"; builder = "/bin/sh"; }';
const EXPR = `let heap = builtins.getEnv "GC_INITIAL_HEAP_SIZE" + "/" + builtins.getEnv "GC_FREE_SPACE_DIVISOR"; in {
  swept = ${PROBE} // { meta.heap = heap; };
  failed = throw "heap \${heap}";
}`;

async function heaps(env: Record<string, string>) {
  const run = await runCli(['eval', '--expr', EXPR, '--workers', '1', '--meta'], { env });
  expect(run.exitCode, run.stderr).toBe(0);
  return { derivation: derivations(run.events).map((d) => d.meta?.['heap']), error: errors(run.events).map((e) => e.error) };
}

test('Nix children start with a 64 MiB collector heap, a sweep’s grows sooner, and the user’s own settings win', async () => {
  await execa('nix-instantiate', ['--expr', PROBE]);
  const ours = await heaps({});
  expect(ours.derivation).toEqual(['64M/1']);
  expect(ours.error).toHaveLength(1);
  expect(ours.error[0]).toContain('heap 64M/');
  expect(ours.error[0]).not.toContain('heap 64M/1');
  const theirs = await heaps({ GC_INITIAL_HEAP_SIZE: '100M', GC_FREE_SPACE_DIVISOR: '5' });
  expect(theirs.derivation).toEqual(['100M/5']);
  expect(theirs.error[0]).toContain('heap 100M/5');
});
