/** Commands started before the program loads: what is guessed, and how a later run takes the early one. */
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { earlyCommandsFor } from '../../src/cli/head-start.js';
import { runNix, startNixEarly } from '../../src/nix/commands.js';

test('a plain flake eval locks early and asks for Nix identity (the cache key and the evaluators dialect need it)', () => {
  expect(earlyCommandsFor(['eval', '--flake', '.#hydraJobs', '--workers', '2'])).toEqual({ lock: '.#hydraJobs', identity: true });
  expect(earlyCommandsFor(['eval', '--workers', '2', '--flake=/src#jobs'])).toEqual({ lock: '/src#jobs', identity: true });
  expect(earlyCommandsFor(['eval', '--flake', '.#x', '--impure'])).toEqual({ lock: '.#x', identity: true });
  expect(earlyCommandsFor(['eval', '--flake', '.#x', '--no-eval-cache'])).toEqual({ lock: '.#x', identity: true });
});

test('nothing starts early for other commands, inputs, or command lines whose lock takes options', () => {
  expect(earlyCommandsFor(['eval', '--file', 'jobs.nix'])).toEqual({ identity: false });
  expect(earlyCommandsFor(['query', '--flake', '.#x'])).toEqual({ identity: false });
  expect(earlyCommandsFor(['eval', '--flake', '.#x', '--option', 'k', 'v'])).toEqual({ identity: false });
  expect(earlyCommandsFor(['eval', '--flake', '.#x', '--override-input', 'a', 'b'])).toEqual({ identity: false });
});

test('runNix takes an early command with the same arguments and directory instead of running it again', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-early-'));
  const appendRun = ['-c', 'echo run >> runs; wc -l < runs'];
  startNixEarly('sh', appendRun, { cwd: dir });
  expect((await runNix('sh', appendRun, { cwd: dir })).trim()).toBe('1');
  // Taken once: the same command again runs anew, as does one that differs.
  expect((await runNix('sh', appendRun, { cwd: dir })).trim()).toBe('2');
  expect((await runNix('sh', [...appendRun, 'x'], { cwd: dir })).trim()).toBe('3');
  expect(await readFile(join(dir, 'runs'), 'utf8')).toBe('run\nrun\nrun\n');
});

test('an early command never taken neither keeps the process alive nor outlives it', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-early-'));
  // The built module: Node runs it as it is (the source's imports name .js files that exist only once built).
  const script = `import { startNixEarly } from ${JSON.stringify(new URL('../../dist/nix/commands.js', import.meta.url).href)};
startNixEarly('sh', ['-c', 'echo $$ > pid; exec sleep 30'], { cwd: ${JSON.stringify(dir)} });
setTimeout(() => {}, 300);`;
  const started = Date.now();
  await execa(process.execPath, ['--input-type=module', '-e', script]);
  expect(Date.now() - started).toBeLessThan(10_000);
  const pid = Number(await readFile(join(dir, 'pid'), 'utf8'));
  await expect.poll(() => isRunning(pid)).toBe(false);
});

/** Whether the process exists and is not a zombie (this machine's init may not reap orphans). */
function isRunning(pid: number): boolean {
  try {
    return readFileSync(`/proc/${pid}/stat`, 'latin1').split(') ')[1]![0] !== 'Z';
  } catch {
    return false;
  }
}
