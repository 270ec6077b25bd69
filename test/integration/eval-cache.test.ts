/** The evaluation cache with real Nix and local flakes. */
import { existsSync } from 'node:fs';
import { mkdtemp, mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeEach, expect, test } from 'vitest';
import { CLI, derivations, derivationSet, runCli, type CliRun } from '../helpers.js';

let dir: string;
let cache: string;

async function writeFlake(jobs: string): Promise<void> {
  await writeFile(
    join(dir, 'flake.nix'),
    `{ outputs = { self }: let mk = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; }; in { hydraJobs = { ${jobs} }; }; }\n`,
  );
}

beforeEach(async () => {
  const root = await mkdtemp(join(tmpdir(), 'evix-evalcache-'));
  dir = join(root, 'flake');
  cache = join(root, 'cache');
  await mkdir(dir);
  await writeFlake(`a = mk "a-${process.pid}-${Date.now()}"; b = mk "b"; tests = { recurseForDerivations = true; c = mk "c"; };`);
});

/**
 * Runs evix with `nix` and `nix-instantiate` on its PATH wrapped to log
 * every Nix command it runs: a run replayed from the cache starts no
 * evaluator (`nix repl`, or a sweep's `nix-instantiate --eval … -`).
 */
async function runCounted(args: string[]): Promise<CliRun & { nixCommands: string[]; evaluatorsStarted: number }> {
  const bin = await mkdtemp(join(tmpdir(), 'evix-counted-nix-'));
  const log = join(bin, 'commands.log');
  for (const command of ['nix', 'nix-instantiate']) {
    const real = (await execa('sh', ['-c', `command -v ${command}`])).stdout;
    await writeFile(join(bin, command), `#!/bin/sh\necho "${command} $*" >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
  }
  const run = await runCli(args, { env: { PATH: `${bin}:${process.env.PATH}` } });
  const nixCommands = (await readFile(log, 'utf8').catch(() => '')).split('\n').filter(Boolean);
  return { ...run, nixCommands, evaluatorsStarted: nixCommands.filter((c) => c.startsWith('nix repl') || /^nix-instantiate --eval .* -$/.test(c)).length };
}

const evalFlake = (...extra: string[]) => runCounted(['eval', '--flake', `${dir}#hydraJobs`, '--eval-cache', cache, '--no-daemon', '-v', ...extra]);
const replayed = (run: { evaluatorsStarted: number }) => run.evaluatorsStarted === 0;

test('an unchanged flake is replayed; an edit is a miss; --refresh and --no-eval-cache bypass it', async () => {
  const cold = await evalFlake();
  expect(cold.exitCode).toBe(0);
  expect(replayed(cold)).toBe(false);
  const warm = await evalFlake();
  expect(replayed(warm)).toBe(true);
  expect(warm.stdout).toBe(cold.stdout);

  await writeFlake('a = mk "edited"; b = mk "b";');
  const edited = await evalFlake();
  expect(replayed(edited)).toBe(false);
  expect(derivations(edited.events).map((d) => d.name).sort()).toEqual(['b', 'edited']);

  expect(replayed(await evalFlake('--refresh'))).toBe(false);
  expect(replayed(await evalFlake())).toBe(true);
  expect(replayed(await evalFlake('--no-eval-cache'))).toBe(false);
});

test('a walk with a failed download is not stored: the next run evaluates again', async () => {
  // Port 1 on loopback refuses connections: the download fails as it would with the network down.
  const fetched = 'builtins.fetchurl { url = "http://127.0.0.1:1/x"; sha256 = "1sx0xs4z4n3hbjcmx2ayyxfpbcq8zd6qkb7a5w6k4ycwjy0wmsv0"; }';
  await writeFlake(`a = mk "a"; b = derivation { name = "b"; system = "x86_64-linux"; builder = "/bin/sh"; src = ${fetched}; };`);
  const allowed = ['--option', 'allowed-uris', 'http://127.0.0.1:1', '--option', 'download-attempts', '1'];
  const first = await evalFlake(...allowed);
  expect(first.events.find((e) => e.attr === 'b')).toMatchObject({ error: expect.stringMatching(/^unable to download 'http:\/\/127.0.0.1:1\/x'/) });
  const second = await evalFlake(...allowed);
  expect(replayed(second)).toBe(false);
  expect(second.stderr).toMatch(/not storing the walk in the evaluation cache/);
});

test('a cached .drv collected from the store is evaluated again; the rest is replayed', async () => {
  const cold = await evalFlake();
  const a = derivations(cold.events).find((d) => d.attr === 'a')!;
  await execa('nix-store', ['--delete', a.drvPath]);
  expect(existsSync(a.drvPath)).toBe(false);
  const again = await evalFlake();
  // Evaluators start again for the collected one: a read-only sweep, which
  // finds its .drv missing, and the repl that writes it (one attribute is
  // too few to sweep again).
  expect(again.evaluatorsStarted).toBe(2);
  expect(existsSync(a.drvPath)).toBe(true);
  expect(derivationSet(again.events)).toEqual(derivationSet(cold.events));
});

test('file, expression and impure runs are never cached', async () => {
  await writeFile(join(dir, 'jobs.nix'), '{ a = derivation { name = "f"; system = "x"; builder = "/bin/sh"; }; }');
  for (const args of [['--file', join(dir, 'jobs.nix')], ['--expr', '{ }'], ['--flake', `${dir}#hydraJobs`, '--impure']]) {
    await runCli(['eval', ...args, '--eval-cache', cache, '--no-daemon']);
    const second = await runCounted(['eval', ...args, '--eval-cache', cache, '--no-daemon']);
    expect(replayed(second)).toBe(false);
  }
});

test('two concurrent writers, and a run killed mid-walk leaves no entry', async () => {
  // Three processes opening a new cache and writing it at once.
  const [one, two, three] = await Promise.all([evalFlake(), evalFlake(), evalFlake()]);
  for (const run of [one, two, three]) expect(run.exitCode, run.stderr).toBe(0);
  expect(derivationSet(two.events)).toEqual(derivationSet(one.events));
  expect(derivationSet(three.events)).toEqual(derivationSet(one.events));
  expect(replayed(await evalFlake())).toBe(true);

  await writeFlake(`big = builtins.listToAttrs (builtins.genList (i: { name = "d\${toString i}"; value = mk "d\${toString i}-${Date.now()}"; }) 3000) // { recurseForDerivations = true; };`);
  const child = execa(CLI, ['eval', '--flake', `${dir}#hydraJobs`, '--eval-cache', cache, '--no-daemon'], { reject: false, buffer: false });
  await new Promise<void>((resolve) => child.stdout.once('data', () => resolve()));
  child.kill('SIGKILL');
  await child;
  expect(replayed(await evalFlake())).toBe(false);
});

test('diff --base compares with another revision of the flake', async () => {
  const git = (...args: string[]) => execa('git', args, { cwd: dir, env: { GIT_AUTHOR_NAME: 't', GIT_AUTHOR_EMAIL: 't@e', GIT_COMMITTER_NAME: 't', GIT_COMMITTER_EMAIL: 't@e' } });
  await writeFlake('a = mk "a"; b = mk "b"; gone = mk "gone";');
  await git('init', '-q');
  await git('add', 'flake.nix');
  await git('commit', '-qm', 'one');
  const first = (await git('rev-parse', 'HEAD')).stdout.trim();
  await writeFlake('a = mk "a2"; b = mk "b"; fresh = mk "fresh";');
  await git('commit', '-qam', 'two');
  const run = await runCli(['diff', '--flake', `git+file://${dir}#hydraJobs`, '--base', `git+file://${dir}?rev=${first}`], { env: { XDG_CACHE_HOME: cache } });
  expect(run.exitCode, run.stderr).toBe(0);
  const diff = JSON.parse(run.stdout) as Record<'added' | 'removed' | 'changed', Array<{ attr: string }>>;
  expect([diff.added.map((d) => d.attr), diff.removed.map((d) => d.attr), diff.changed.map((d) => d.attr)]).toEqual([['fresh'], ['gone'], ['a']]);
  const usage = await runCli(['diff', '--file', join(dir, 'flake.nix'), '--base', 'x']);
  expect(usage.exitCode).toBe(2);
});

test('a cache hit runs each of its Nix commands once: the ones started before the program loaded are taken', async () => {
  await evalFlake();
  const hit = await evalFlake();
  expect(replayed(hit)).toBe(true);
  const commands = hit.nixCommands;
  expect(commands.filter((c) => c.includes('flake metadata'))).toHaveLength(1);
  expect(commands.filter((c) => c.includes('builtins.nixVersion'))).toHaveLength(1);
});
