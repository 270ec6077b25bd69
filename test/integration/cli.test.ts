/** The command line as a user meets it: exit statuses, one-line errors, signals, GC roots. */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdtemp, readFile, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { CLI, FIXTURES, ROOT, derivations, runCli } from '../helpers.js';
import { PLAIN_TEXTS } from '../plain-texts.js';

const JOBS = `${FIXTURES}/jobs.nix`;

test('the command under test is built from this source, not an earlier build', () => {
  const src = new URL('../../src/', import.meta.url);
  const newestSource = Math.max(...readdirSync(src, { recursive: true, encoding: 'utf8' }).map((file) => statSync(new URL(file, src)).mtimeMs));
  expect(statSync(CLI).mtimeMs).toBeGreaterThanOrEqual(newestSource);
});

function expectOneLineError(run: { stderr: string; exitCode: number | undefined }, status: number, pattern: RegExp): void {
  expect(run.exitCode).toBe(status);
  const lines = run.stderr.trim().split('\n');
  expect(lines, run.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^evix: /);
  expect(lines[0]).toMatch(pattern);
}

test('a complete run with attribute errors exits 0 and prints only JSON on stdout', async () => {
  const run = await runCli(['eval', '--file', JOBS, '--workers', '2']);
  expect(run.exitCode).toBe(0);
  expect(derivations(run.events).length).toBeGreaterThan(10);
  expect(run.events.some((e) => 'error' in e)).toBe(true);
});

test('no command prints the help on stderr and exits 2', async () => {
  const run = await runCli([]);
  expect(run.exitCode).toBe(2);
  expect(run.stdout).toBe('');
  expect(run.stderr).toMatch(/^Usage: evix/);
  expect(run.stderr).not.toContain('outputHelp');
});

test('usage errors exit 2 with one line', async () => {
  expectOneLineError(await runCli(['eval']), 2, /exactly one of --file, --expr or --flake/);
  expectOneLineError(await runCli(['eval', '--file', JOBS, '--expr', '{}']), 2, /exactly one/);
  expectOneLineError(await runCli(['eval', '--expr', '{}', '--workers', 'two']), 2, /--workers/);
  expectOneLineError(await runCli(['eval', '--expr', '{}', '--arg', 'x']), 2, /--arg' needs 2 values/);
  expectOneLineError(await runCli(['eval', '--expr', '{}', '--frobnicate']), 2, /unknown option/);
  expectOneLineError(await runCli(['eval', '--file', JOBS, '--override-input', 'a', 'b']), 2, /--override-input needs --flake/);
});

test('bad input exits 1 with one line and no stack trace', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-cli-'));
  await writeFile(join(dir, 'syntax.nix'), '{ a = ; }\n');
  expectOneLineError(await runCli(['eval', '--file', join(dir, 'absent.nix')]), 1, /file not found/);
  const syntax = await runCli(['eval', '--file', join(dir, 'syntax.nix')]);
  expectOneLineError(syntax, 1, /syntax error, unexpected ';' \(at .*syntax\.nix:1:7\)/);
  expect(syntax.events).toEqual([{ attr: '', attrPath: [], error: expect.stringMatching(/syntax error/), fatal: true }]);
  expectOneLineError(await runCli(['eval', '--expr', '{ a = 1;']), 1, /--expr: syntax error/);
  expectOneLineError(await runCli(['eval', '--file', JOBS, '--arg', 'label', '1 +']), 1, /--arg label: syntax error/);
  expectOneLineError(await runCli(['eval', '--expr', 'throw "no root"']), 1, /no root/);
});

test('what skips the syntax check (a lone number, true, false, null, a plain string) is valid Nix, as Nix itself says', async () => {
  for (const text of PLAIN_TEXTS) await expect(execa('nix-instantiate', ['--parse', '-'], { input: text }), text).resolves.toMatchObject({ exitCode: 0 });
  const run = await runCli(['eval', '--expr', '{ count }: { n = count; }', '--arg', 'count', '5000']);
  expect(run.exitCode, run.stderr).toBe(0);
});

test('--help explains every flag', async () => {
  const run = await runCli(['eval', '--help']);
  expect(run.exitCode).toBe(0);
  for (const flag of ['--file', '--expr', '--flake', '--arg', '--argstr', '--include', '--option', '--override-input', '--impure', '--workers', '--max-memory', '--max-memory-size', '--force-recurse', '--meta', '--show-input-drvs', '--gc-roots-dir', '--show-trace', '--verbose', '--quiet']) {
    expect(run.stdout).toContain(flag);
  }
});

const COMMANDS = ['eval', 'worker', 'daemon', 'query', 'diff', 'watch'];

test.each(COMMANDS)('%s --help has an example and no default of an empty list', async (command) => {
  const run = await runCli([command, '--help']);
  expect(run.exitCode).toBe(0);
  expect(run.stdout).toMatch(new RegExp(`\\nExample:\\n  evix ${command} --`));
  expect(run.stdout).not.toContain('(default: [])');
});

test('query, diff and watch take every flag eval takes; watch leaves out --expr, which it refuses', async () => {
  const flagsOf = (help: string) => new Set([...help.matchAll(/^  (?:-\w, )?(--[\w-]+)/gm)].map((m) => m[1]));
  const evalFlags = flagsOf((await runCli(['eval', '--help'])).stdout);
  expect(evalFlags.size).toBeGreaterThan(30);
  for (const command of ['query', 'diff', 'watch']) {
    const flags = flagsOf((await runCli([command, '--help'])).stdout);
    const missing = [...evalFlags].filter((flag) => !flags.has(flag) && !(command === 'watch' && flag === '--expr'));
    expect(missing, command).toEqual([]);
  }
  expect(flagsOf((await runCli(['watch', '--help'])).stdout).has('--expr')).toBe(false);
  expectOneLineError(await runCli(['watch', '--expr', '{}', '--workers', '2']), 2, /^evix: watch needs a file or a local flake \(--file or --flake\)/);
});

test('an eval command line works with the verb changed: the flags that only say how to run are taken', async () => {
  const socket = join(await mkdtemp(join(tmpdir(), 'evix-nodaemon-')), 'evix.sock');
  const line = ['--file', JOBS, '--workers', '4', '--max-memory', '2048', '--no-eval-cache', '--output-format', 'evix', '-q'];
  for (const command of ['query', 'diff']) {
    // Without a daemon both refuse for that reason, not for a flag.
    expectOneLineError(await runCli([command, ...line], { env: { EVIX_SOCKET: socket } }), 1, /no evix daemon answers/);
  }
});

test('-v and -q anywhere on the line; an unknown command is named', async () => {
  const expr = '{ a = builtins.trace "hello from nix" (derivation { name = "t"; system = "x"; builder = "/bin/sh"; }); }';
  for (const args of [['-v', 'eval', '--expr', expr], ['eval', '-v', '--expr', expr], ['eval', '--expr', expr, '-v']]) {
    const run = await runCli([...args, '--no-daemon']);
    expect(run.stderr, args.join(' ')).toContain('trace: hello from nix');
    expect(derivations(run.events)).toHaveLength(1);
  }
  const quiet = await runCli(['-q', 'eval', '--no-daemon', '--expr', expr, '-v']);
  expect(quiet.stderr).toBe('');
  expectOneLineError(await runCli(['help', 'nope']), 2, /^evix: unknown command 'nope'$/);
  expectOneLineError(await runCli(['nope']), 2, /^evix: unknown command 'nope'$/);
  const help = await runCli(['help', 'eval']);
  expect(help.stdout).toMatch(/^Usage: evix eval/);
});

test.each([
  ['SIGINT', 130],
  ['SIGTERM', 143],
] as const)('%s stops the run, keeps what was printed and leaves no nix process', async (signal, status) => {
  const child = execa(CLI, ['eval', '--file', `${FIXTURES}/wide.nix`, '--arg', 'count', '100000', '--workers', '2'], { reject: false, buffer: { stdout: true } });
  let stdout = '';
  await new Promise<void>((resolve) => {
    child.stdout.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
      if (stdout.split('\n').length > 20) resolve();
    });
  });
  // Two workers: at least one repl and a sweep each, or a second repl once work has waited for the first (START_EVALUATOR_AFTER_MS).
  let nixChildren: number[] = [];
  for (let tries = 0; nixChildren.length < 2 && tries < 100; tries++) {
    const { stdout: pids } = await execa('pgrep', ['-P', String(child.pid)], { reject: false });
    nixChildren = pids.split('\n').filter((p) => p !== '').map(Number);
    if (nixChildren.length < 2) await sleep(50);
  }
  expect(nixChildren.length).toBeGreaterThanOrEqual(2);
  child.kill(signal);
  const result = await child;
  expect(result.exitCode).toBe(status);
  for (const line of result.stdout.split('\n').filter((l) => l !== '')) expect(() => JSON.parse(line) as unknown).not.toThrow();
  for (const pid of nixChildren) expect(existsSync(`/proc/${pid}`), `nix child ${pid} survived`).toBe(false);
});

test('--gc-roots-dir roots every derivation against a real garbage collection', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-roots-'));
  const unique = `gc-${process.pid}-${Date.now()}`;
  const expr = `{ kept = derivation { name = "${unique}-kept"; system = "x86_64-linux"; builder = "/bin/sh"; }; }`;
  const run = await runCli(['eval', '--expr', expr, '--gc-roots-dir', join(dir, 'roots')]);
  expect(run.exitCode).toBe(0);
  const [kept] = derivations(run.events);
  expect(await readlink(join(dir, 'roots', kept!.drvPath.slice('/nix/store/'.length)))).toBe(kept!.drvPath);
  // The control: the same kind of .drv without a root is collected.
  const { stdout: loose } = await execa('nix-instantiate', ['--expr', `derivation { name = "${unique}-loose"; system = "x86_64-linux"; builder = "/bin/sh"; }`]);
  await execa('nix-store', ['--delete', loose.trim()]);
  expect(existsSync(loose.trim())).toBe(false);
  const refused = await execa('nix-store', ['--delete', kept!.drvPath], { reject: false });
  expect(refused.exitCode).not.toBe(0);
  expect(refused.stderr).toMatch(/still alive/);
  expect(existsSync(kept!.drvPath)).toBe(true);
});

test('-I adds to the search path and --option reaches Nix', async () => {
  const viaSearchPath = await runCli(['eval', '-I', `fixtures=${FIXTURES}`, '--expr', '{ inherit (import <fixtures/jobs.nix> { }) hello; }']);
  expect(derivations(viaSearchPath.events).map((d) => d.attr)).toEqual(['hello']);
  // Restricted evaluation hides the environment from getEnv.
  const expr = '{ d = derivation { name = if builtins.getEnv "HOME" == "" then "pure" else "impure"; system = "x"; builder = "/bin/sh"; }; }';
  const impure = await runCli(['eval', '--expr', expr]);
  expect(derivations(impure.events).map((d) => d.name)).toEqual(['impure']);
  const pure = await runCli(['eval', '--expr', expr, '--option', 'restrict-eval', 'true']);
  expect(derivations(pure.events).map((d) => d.name)).toEqual(['pure']);
});

test('--show-trace adds the evaluation trace to errors', async () => {
  const expr = '{ a = let f = x: x + 1; in f "s"; }';
  const plain = await runCli(['eval', '--expr', expr]);
  const traced = await runCli(['eval', '--expr', expr, '--show-trace']);
  const errorOf = (run: typeof plain) => (run.events.find((e) => 'error' in e) as { error: string }).error;
  expect(errorOf(plain)).not.toMatch(/while evaluating/);
  expect(errorOf(traced)).toMatch(/while evaluating/);
});

test('-v logs what the evaluation traced; by default stderr stays quiet', async () => {
  const expr = '{ a = builtins.trace "hello from nix" (derivation { name = "t"; system = "x"; builder = "/bin/sh"; }); }';
  const quiet = await runCli(['eval', '--expr', expr]);
  expect(quiet.stderr).toBe('');
  const verbose = await runCli(['eval', '--expr', expr, '-v']);
  expect(verbose.stderr).toContain('trace: hello from nix');
  expect(derivations(verbose.events)).toHaveLength(1);
});

test('--version and -V print the version package.json has, for evix and evixd', async () => {
  const { version } = JSON.parse(await readFile(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  for (const args of [['--version'], ['-V']]) {
    const run = await runCli(args);
    expect(run.exitCode).toBe(0);
    expect(run.stdout.trim()).toBe(version);
  }
  const evixd = await execa(join(ROOT, 'dist/bin/evixd.js'), ['--version']);
  expect(evixd.stdout.trim()).toBe(version);
});

test('a closed stdout (a pipe into head) ends the run quietly, with 141 as after SIGPIPE, and no nix process left', async () => {
  // The evaluators run in this directory, which tells them apart from any other nix process.
  const here = await mkdtemp(join(tmpdir(), 'evix-epipe-'));
  const run = await execa('bash', ['-c', `"${CLI}" eval --no-daemon --no-eval-cache --workers 2 --file "${ROOT}bench/fixtures/flat.nix" --arg count 20000 | head -1; echo "status \${PIPESTATUS[0]}"`], { cwd: here });
  const [line, status] = run.stdout.split('\n');
  // Whichever event came first (sweeps answer in parts, in no fixed order across them).
  expect(JSON.parse(line!)).toHaveProperty('attrPath');
  expect(status).toBe('status 141');
  expect(run.stderr).toBe('');
  await sleep(200);
  const left = [];
  for (const pid of readdirSync('/proc').filter((p) => /^\d+$/.test(p))) {
    if ((await readlink(`/proc/${pid}/cwd`).catch(() => '')) === here) left.push(pid);
  }
  expect(left).toEqual([]);
});
