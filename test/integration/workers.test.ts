/** How many evaluators a run starts: as many as its work uses, within the machine's memory. */
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { CLI, ROOT, derivations } from '../helpers.js';
import type { EvalEvent } from '../../src/events.js';

test('--workers far past the machine starts only the evaluators the work uses, and says so', async () => {
  const run = execa(CLI, ['eval', '--no-daemon', '--no-eval-cache', '--workers', '100000', '--file', `${ROOT}examples/jobs.nix`], { cwd: ROOT, reject: false });
  let ended = false;
  const finished = run.finally(() => (ended = true));
  let most = 0;
  while (!ended) {
    const { stdout } = await execa('pgrep', ['-P', String(run.pid), '-x', 'nix'], { reject: false });
    most = Math.max(most, stdout.split('\n').filter(Boolean).length);
    await sleep(10);
  }
  const result = await finished;
  expect(result.exitCode).toBe(0);
  const events = result.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as EvalEvent);
  const found = derivations(events).length;
  expect(found).toBeGreaterThan(0);
  // An evaluator starts only for work the started ones leave: never more than the attributes there are.
  expect(most).toBeGreaterThanOrEqual(1);
  expect(most).toBeLessThanOrEqual(found + 1);
  expect(result.stderr).toMatch(/--workers 100000: this machine's free memory has room for \d+ evaluators; at most \d+ will run/);
});
