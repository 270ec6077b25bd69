/**
 * What evix puts in the environment of its Nix children (src/nix/environment.ts),
 * read back by the evaluation itself: a derivation answered by a sweep
 * names its derivation after the variable, and an error (which a sweep
 * leaves to a chunk, so the repl evaluates it) carries it in its text.
 */
import { expect, test } from 'vitest';
import { derivations, errors, runCli } from '../helpers.js';

const EXPR = `let heap = builtins.getEnv "GC_INITIAL_HEAP_SIZE"; in {
  swept = derivation { name = "heap-\${heap}"; system = "x86_64-linux"; builder = "/bin/sh"; };
  failed = throw "heap \${heap}";
}`;

async function heaps(env: Record<string, string>) {
  const run = await runCli(['eval', '--expr', EXPR, '--workers', '1'], { env });
  expect(run.exitCode, run.stderr).toBe(0);
  return { derivation: derivations(run.events).map((d) => d.name), error: errors(run.events).map((e) => e.error) };
}

test('Nix children start with a 64 MiB collector heap, and the user’s own setting wins', async () => {
  const ours = await heaps({});
  expect(ours.derivation).toEqual(['heap-64M']);
  expect(ours.error).toHaveLength(1);
  expect(ours.error[0]).toContain('heap 64M');
  const theirs = await heaps({ GC_INITIAL_HEAP_SIZE: '100M' });
  expect(theirs.derivation).toEqual(['heap-100M']);
  expect(theirs.error[0]).toContain('heap 100M');
});
