/**
 * A read-only $HOME does not stop evaluation: Nix's data and cache
 * directories (and evix's evaluation cache) go to a private stand-in under
 * the temporary directory instead. HOME is made read-only by a read-only
 * bind mount in a mount namespace of the run's own: tests run as root, for
 * whom a chmod would stop no write. Skipped, saying so, where no mount
 * namespace can be made.
 */
import { execaSync, execa } from 'execa';
import { existsSync } from 'node:fs';
import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { FIXTURES, derivations, expectMatchesNix, runCli, viaNixInstantiate } from '../helpers.js';

/** Runs the rest of its line without XDG directories of its own (the test setup gives one), so that they are found under $HOME. */
const XDG_UNDER_HOME = ['sh', '-c', 'unset XDG_DATA_HOME XDG_CACHE_HOME && exec "$@"', 'sh'];
/** The same with $HOME read-only. */
const READ_ONLY_HOME = ['unshare', '-m', 'sh', '-c', 'mount --bind "$HOME" "$HOME" && mount -o remount,bind,ro "$HOME" && exec "$@"', 'sh', ...XDG_UNDER_HOME];

function whyNot(): string | undefined {
  const probe = execaSync(READ_ONLY_HOME[0]!, [...READ_ONLY_HOME.slice(1), 'sh', '-c', 'touch "$HOME/probe"'], { env: { HOME: tmpdir() }, reject: false });
  if (probe.exitCode === 0) return 'a file could be written in the read-only HOME';
  return /Read-only file system/.test(probe.stderr) ? undefined : `no read-only bind mount in a mount namespace here (${probe.stderr.trim().split('\n').at(-1)})`;
}
const skip = whyNot();

let dir: string;
let flake: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evix-read-only-home-'));
  flake = join(dir, 'flake');
  await mkdir(flake);
  await copyFile(`${FIXTURES}/jobs.nix`, join(flake, 'jobs.nix'));
  await writeFile(join(flake, 'flake.nix'), '{ outputs = { self }: { hydraJobs = import ./jobs.nix { }; }; }\n');
  await execa('nix', ['--extra-experimental-features', 'nix-command flakes', 'flake', 'lock', flake]);
});

afterAll(() => rm(dir, { recursive: true, force: true }));

/** A HOME and a TMPDIR (where the stand-in is made) of their own. */
async function homeAndTmp(name: string): Promise<{ HOME: string; TMPDIR: string }> {
  const [HOME, TMPDIR] = [join(dir, name, 'home'), join(dir, name, 'tmp')];
  await Promise.all([mkdir(HOME, { recursive: true }), mkdir(TMPDIR, { recursive: true })]);
  return { HOME, TMPDIR };
}

const standIn = (tmp: string) => join(tmp, `evix-xdg-${process.getuid?.() ?? 0}`);

test.skipIf(skip !== undefined)(`with a read-only HOME a file and a flake evaluate as Nix evaluates them${skip ? ` (skipped: ${skip})` : ''}`, async () => {
  const env = await homeAndTmp('read-only');
  const file = await runCli(['eval', '--file', `${FIXTURES}/jobs.nix`, '--workers', '2'], { env, under: READ_ONLY_HOME });
  expect(file.stderr).not.toMatch(/Read-only file system/);
  expect(file.exitCode).toBe(0);
  await expectMatchesNix(viaNixInstantiate(`import ${FIXTURES}/jobs.nix { }`), derivations(file.events));

  // A flake run also stores its walk in the evaluation cache, and the next one replays it from there.
  const args = ['eval', '--flake', `${flake}#hydraJobs`, '-v'];
  const flakeRun = await runCli(args, { env, under: READ_ONLY_HOME });
  expect(flakeRun.exitCode).toBe(0);
  // The flake's jobs are jobs.nix's, which name nothing of the flake: Nix gives them the same paths.
  await expectMatchesNix(viaNixInstantiate(`import ${FIXTURES}/jobs.nix { }`), derivations(flakeRun.events));
  const replayed = await runCli(args, { env, under: READ_ONLY_HOME });
  expect(replayed.stderr).toMatch(/replaying the walk from the evaluation cache/);
  expect(replayed.stdout).toBe(flakeRun.stdout);
  expect(existsSync(join(standIn(env.TMPDIR), 'data', 'nix'))).toBe(true);
  expect(existsSync(join(standIn(env.TMPDIR), 'cache', 'evix'))).toBe(true);
});

test('with a writable HOME, Nix and the evaluation cache use it and no stand-in is made', async () => {
  const env = await homeAndTmp('writable');
  const run = await runCli(['eval', '--flake', `${flake}#hydraJobs`], { env, under: XDG_UNDER_HOME });
  expect(run.exitCode).toBe(0);
  expect(existsSync(join(env.HOME, '.local', 'share', 'nix'))).toBe(true);
  expect(existsSync(join(env.HOME, '.cache', 'evix'))).toBe(true);
  expect(existsSync(standIn(env.TMPDIR))).toBe(false);
});
