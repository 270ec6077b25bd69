/**
 * evix as a user installs it: the commands scripts/setup links onto PATH and
 * those `npm install -g` makes, run by name with the system's own Node (if
 * any, and however old) first on PATH.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, describe, expect, test } from 'vitest';
import { FIXTURES, HAS_NPM, ROOT, derivations, expectMatchesNix, olderSystemNode, viaNixInstantiate } from '../helpers.js';

const VERSION = (JSON.parse(readFileSync(`${ROOT}package.json`, 'utf8')) as { version: string }).version;
/** What a user's shell has: the system directories, without this checkout's Node. */
const SYSTEM_PATH = '/usr/local/bin:/usr/bin:/bin';
const temporary: string[] = [];
afterAll(() => temporary.forEach((dir) => rmSync(dir, { recursive: true, force: true })));

function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), 'evix-installed-'));
  temporary.push(dir);
  return dir;
}

/** Runs COMMAND by name in a shell whose PATH is BIN, then the system's directories. */
function runInstalled(bin: string, command: string, args: string[]) {
  return execa(command, args, { cwd: ROOT, env: { PATH: `${bin}:${SYSTEM_PATH}`, HOME: process.env.HOME ?? '/root' }, extendEnv: false, reject: false });
}

async function expectWorkingCommands(bin: string): Promise<void> {
  for (const command of ['evix', 'evixd']) {
    const run = await runInstalled(bin, command, ['--version']);
    expect(run.stderr).toBe('');
    expect([run.exitCode, run.stdout]).toEqual([0, VERSION]);
  }
  const help = await runInstalled(bin, 'evix-eval-jobs', ['--help']);
  expect(help.exitCode).toBe(0);
  expect(help.stdout).toContain('--workers');
  const run = await runInstalled(bin, 'evix', ['eval', '--no-daemon', '--file', `${FIXTURES}/jobs.nix`]);
  expect(run.exitCode, run.stderr).toBe(0);
  const events = run.stdout.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l));
  await expectMatchesNix(viaNixInstantiate(`import ${FIXTURES}/jobs.nix { }`), derivations(events));
}

test('scripts/link-bins puts evix, evixd and evix-eval-jobs on PATH, running on Node 24 whatever node is on PATH', async () => {
  const bin = scratch();
  const link = await execa(`${ROOT}scripts/link-bins`, [], { env: { EVIX_BIN_DIR: bin }, reject: false });
  expect(link.exitCode, link.stderr).toBe(0);
  expect(link.stdout).toContain(`linked in ${bin}`);
  await expectWorkingCommands(bin);
});

test('a link named nix-eval-jobs calls itself that', async () => {
  const bin = scratch();
  await execa(`${ROOT}scripts/link-bins`, [], { env: { EVIX_BIN_DIR: bin } });
  await execa('ln', ['-s', join(bin, 'evix-eval-jobs'), join(bin, 'nix-eval-jobs')]);
  const run = await runInstalled(bin, 'nix-eval-jobs', ['--no-such-flag']);
  expect(run.exitCode).toBe(1);
  expect(run.stderr).toContain("Try 'nix-eval-jobs --help'");
});

const old = olderSystemNode();
describe.skipIf('missing' in old)(`run by a Node older than 22.12 (${'missing' in old ? old.missing : old.path})`, () => {
  test.each(['evix', 'evixd', 'evix-eval-jobs'])('%s says in one line which Node it needs, exit 2', async (command) => {
    const { path, version } = old as { path: string; version: string };
    const run = await execa(path, [`${ROOT}dist/bin/${command}.js`, '--version'], { reject: false });
    expect(run.exitCode).toBe(2);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(new RegExp(`^${command}: needs Node\\.js 22\\.12 or newer, and this is ${version.replaceAll('.', '\\.')}: install Node 24 [^\\n]*$`));
  });
});

test.skipIf(!HAS_NPM)(`npm install -g of the packed package gives commands that run on its own Node 24${HAS_NPM ? '' : ' (skipped: no npm on PATH)'}`, { timeout: 300_000 }, async () => {
  const work = scratch();
  const packed = await execa('npm', ['pack', '--silent', '--pack-destination', work], { cwd: ROOT });
  const tarball = join(work, packed.stdout.trim().split('\n').pop()!);
  const prefix = join(work, 'prefix');
  const install = await execa('npm', ['install', '--global', '--prefix', prefix, '--no-audit', '--no-fund', tarball], { reject: false });
  expect(install.exitCode, install.stderr).toBe(0);
  expect(existsSync(join(prefix, 'lib/node_modules/evix/node_modules/node/bin/node'))).toBe(true);
  await expectWorkingCommands(join(prefix, 'bin'));
});
