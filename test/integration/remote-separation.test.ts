/**
 * A remote worker that does not see what the master sees: its own empty
 * Nix store and no view of the master's checkout (tmpfs over both, in a
 * mount namespace: another machine, as far as Nix can tell). Needs root
 * (CI runs as root); skipped otherwise.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { derivations, runCli } from '../helpers.js';
import { startWorker, type WorkerProcess } from '../workers.js';

const skip = process.getuid?.() !== 0 ? 'not root' : undefined;

let checkout: string;
let worker: WorkerProcess;

beforeAll(async () => {
  if (skip) return;
  checkout = await mkdtemp(join(tmpdir(), 'evix-checkout-'));
  await writeFile(join(checkout, 'flake.nix'), '{ outputs = { self }: { hydraJobs.a = derivation { name = "elsewhere"; system = "x86_64-linux"; builder = "/bin/sh"; }; }; }\n');
  const git = (...args: string[]) => execa('git', ['-c', 'user.email=ci@evix', '-c', 'user.name=ci', ...args], { cwd: checkout });
  await git('init', '-q');
  await git('add', 'flake.nix');
  await git('commit', '-qm', 'init');
  worker = await startWorker(['--listen', '127.0.0.1:0', '--insecure'], { hide: [checkout, '/nix'] });
});
afterAll(async () => {
  if (!skip) await worker.stop();
});

test.skipIf(skip !== undefined)(`a worker that cannot fetch the flake fails setup naming it; its work goes to the others${skip ? ` (skipped: ${skip})` : ''}`, async () => {
  const remote = ['--remote', `127.0.0.1:${worker.port}`, '', '1'];
  const alone = await runCli(['eval', '--no-daemon', '--no-eval-cache', '--workers', '0', ...remote, '--flake', `${checkout}#hydraJobs`]);
  expect(alone.exitCode).toBe(1);
  expect(alone.events).toEqual([]);
  expect(alone.stderr.trim().split('\n').at(-1)).toMatch(new RegExp(`^evix: worker 127\\.0\\.0\\.1:${worker.port}: cannot fetch the flake 'git\\+file://${checkout}\\?.*': program 'git' failed`));

  const withLocal = await runCli(['eval', '--no-daemon', '--no-eval-cache', '--workers', '1', ...remote, '--flake', `${checkout}#hydraJobs`]);
  expect(withLocal.exitCode).toBe(0);
  expect(derivations(withLocal.events).map((d) => d.name)).toEqual(['elsewhere']);
});
