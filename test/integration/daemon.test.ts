/**
 * evixd as a real process: warm sessions, query, diff, many clients, restarts,
 * a guarded socket. Each test has a daemon of its own, with its own socket and
 * evaluation cache, so that none depends on what another left behind.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { DerivationEvent, ErrorEvent } from '../../src/events.js';
import { CLI, ROOT, FIXTURES, derivations, errors, expectMatchesNix, runCli, viaNixEval, viaNixInstantiate } from '../helpers.js';

const JOBS = `${FIXTURES}/jobs.nix`;
const WIDE = `${FIXTURES}/wide.nix`;

let dir: string;
let socket: string;
let daemon: ResultPromise | undefined;
let daemonLog = '';

const EVIXD = `${ROOT}dist/bin/evixd.js`;

/**
 * `evixd --foreground -v ARGS`, once it says it listens; everything it says
 * goes to `onLog`. In an object: a child returned from an async function
 * would be awaited, until it exits.
 */
async function listeningDaemon(args: string[], env: Record<string, string>, onLog: (text: string) => void = () => {}): Promise<{ child: ResultPromise }> {
  const child = execa(process.execPath, [EVIXD, '--foreground', '-v', ...args], { reject: false, buffer: false, env });
  await new Promise<void>((resolve, reject) => {
    let said = '';
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      onLog(chunk.toString());
      if (said.includes('listening on')) resolve();
    });
    void child.then(() => reject(new Error(`daemon exited: ${said}`)));
  });
  return { child };
}

async function startDaemon(): Promise<void> {
  daemonLog = '';
  ({ child: daemon } = await listeningDaemon(['--socket', socket], { XDG_CACHE_HOME: join(dir, 'cache') }, (text) => (daemonLog += text)));
}

/** A daemon command (`evix daemon` or `evixd`) that should refuse to start: how it ended (a hung one is killed). */
function refusedDaemon(command: 'evix daemon' | 'evixd', args: string[], env: Record<string, string> = {}) {
  const [bin, ...verb] = command === 'evixd' ? [EVIXD] : [CLI, 'daemon'];
  return execa(process.execPath, [bin!, ...verb, '--foreground', ...args], { reject: false, env, timeout: 20_000 });
}

async function stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  daemon?.kill(signal);
  await daemon;
  daemon = undefined;
}

const cli = (args: string[], cwd = ROOT) => runCli(args, { cwd, env: { EVIX_SOCKET: socket } });
const lines = (stdout: string) => stdout.trim().split('\n').sort();
const attrsOf = (events: Array<{ attr: string }>) => events.map((e) => e.attr);

/** Evaluates through the daemon, which keeps the walk warm; fails the test if that run fails. */
async function warm(args: string[], cwd = ROOT) {
  const run = await cli(['eval', ...args], cwd);
  expect(run.exitCode, run.stderr).toBe(0);
  return run;
}

/** `evix watch ARGS` against this test's daemon: its stdout lines one by one, and what it said on stderr. */
function watchLines(args: string[]) {
  const child = execa(process.execPath, [CLI, 'watch', ...args], { reject: false, buffer: false, env: { EVIX_SOCKET: socket } });
  const lines: unknown[] = [];
  let pending = '';
  let said = '';
  let wake: (() => void) | undefined;
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let at = pending.indexOf('\n'); at !== -1; at = pending.indexOf('\n')) {
      lines.push(JSON.parse(pending.slice(0, at)));
      pending = pending.slice(at + 1);
    }
    wake?.();
  });
  child.stderr.on('data', (chunk: Buffer) => (said += chunk.toString()));
  let taken = 0;
  return {
    async next(): Promise<unknown> {
      while (lines.length <= taken) await new Promise<void>((resolve) => (wake = resolve));
      return lines[taken++];
    },
    stderr: () => said.split('\n'),
    async stop(): Promise<void> {
      child.kill('SIGINT');
      await child;
    },
  };
}

interface Diff {
  added: DerivationEvent[];
  removed: DerivationEvent[];
  changed: Array<{ attr: string; before: DerivationEvent; after: DerivationEvent }>;
  errors: ErrorEvent[];
}

/**
 * Sends raw bytes on a connection of its own: what came back, and whether
 * the daemon closed the connection (else it is closed here, after a pause
 * long enough for the replies).
 */
function talk(payload: string): Promise<{ replies: unknown[]; closedByDaemon: boolean }> {
  return new Promise((resolve) => {
    const s = connect(socket);
    let got = '';
    let closedByDaemon = true;
    let pause: NodeJS.Timeout | undefined;
    s.on('data', (chunk) => (got += chunk.toString()));
    // Writing into a connection the daemon has closed fails; 'close' follows.
    s.on('error', () => {});
    s.on('close', () => {
      clearTimeout(pause);
      resolve({ replies: got.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as unknown), closedByDaemon });
    });
    s.write(payload, () => {
      if (s.closed) return;
      pause = setTimeout(() => {
        closedByDaemon = false;
        s.end();
      }, 300);
    });
  });
}

describe('evixd', () => {
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'evix-daemon-'));
    socket = join(dir, 'run', 'evix.sock');
    await mkdir(dirname(socket), { mode: 0o700 });
    await startDaemon();
  });
  afterEach(async () => {
    await stopDaemon();
    await rm(dir, { recursive: true, force: true });
  });

  test('the socket is 0600', async () => {
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
  });

  test('a second daemon on a socket the first answers refuses to start, in one line, and the first serves on', async () => {
    for (const command of ['evix daemon', 'evixd'] as const) {
      const second = await refusedDaemon(command, ['--socket', socket]);
      expect([second.exitCode, second.stderr], command).toEqual([1, `evix: another daemon answers at ${socket}: stop it first, or choose another socket`]);
    }
    const served = await warm(['--file', JOBS]);
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(served.events));
  });

  test('a socket left by a killed daemon is replaced; a file that is not a socket is left alone', async () => {
    await stopDaemon('SIGKILL');
    expect((await lstat(socket)).isSocket()).toBe(true);
    await startDaemon();
    const served = await warm(['--file', JOBS]);
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(served.events));
    await stopDaemon();
    await writeFile(socket, 'not a socket');
    const refused = await refusedDaemon('evixd', ['--socket', socket]);
    expect([refused.exitCode, refused.stderr]).toEqual([1, `evix: ${socket} exists and is not a socket`]);
    expect(await readFile(socket, 'utf8')).toBe('not a socket');
  });

  test("a socket whose directory is missing is refused, and nothing is made where it points", async () => {
    const missing = join(dir, 'absent', 'deeper', 'evix.sock');
    for (const [command, args, env] of [
      ['evix daemon', ['--socket', missing], {}],
      ['evixd', [], { EVIX_SOCKET: missing }],
    ] as const) {
      const refused = await refusedDaemon(command, [...args], env);
      expect([refused.exitCode, refused.stderr], command).toEqual([1, `evix: the socket's directory ${dirname(missing)} does not exist: make it, or choose another socket`]);
    }
    expect(existsSync(join(dir, 'absent'))).toBe(false);
  });

  test('eval through the daemon prints what a local eval prints, and leaves the session warm', async () => {
    const viaDaemon = await warm(['--file', JOBS, '--workers', '2']);
    const local = await cli(['eval', '--file', JOBS, '--no-daemon']);
    expect(lines(viaDaemon.stdout)).toEqual(lines(local.stdout));
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(viaDaemon.events));
    // Warm: the daemon answers a query with the walk's derivations and errors
    // (a query of a configuration it never walked is refused).
    const query = await cli(['query', '--file', JOBS]);
    expect(query.exitCode, query.stderr).toBe(0);
    expect(lines(query.stdout)).toEqual([...derivations(local.events), ...errors(local.events)].map((e) => JSON.stringify(e)).sort());
  });

  test('query by system and by attr prefix, exact attr and glob', async () => {
    await warm(['--file', JOBS]);
    const attrs = async (...args: string[]) => attrsOf((await cli(['query', '--file', JOBS, ...args])).events);
    expect(await attrs('--system', 'aarch64-linux')).toEqual(['arm']);
    expect(await attrs('--system', 'aarch64-linux', '--system', 'aarch64-darwin')).toEqual(['arm', 'mac']);
    expect(await attrs('--attr-prefix', 'nested')).toEqual(['nested.deeper.leaf', 'nested.inner']);
    expect(await attrs('--attr-prefix', 'nested.inner')).toEqual(['nested.inner']);
    expect(await attrs('--attr-prefix', 'm*')).toEqual(['mac', 'multi', 'missing']);
  });

  test('diff after an edit: added, removed, changed; the new graph becomes warm', async () => {
    const file = join(dir, 'edited.nix');
    await writeFile(file, '{ a = derivation { name = "a"; system = "x"; builder = "/bin/sh"; }; b = derivation { name = "b"; system = "x"; builder = "/bin/sh"; }; }\n');
    const before = await warm(['--file', file]);
    await writeFile(file, '{ a = derivation { name = "a2"; system = "x"; builder = "/bin/sh"; }; c = derivation { name = "c"; system = "x"; builder = "/bin/sh"; }; d = throw "bad"; }\n');
    const diff = JSON.parse((await cli(['diff', '--file', file])).stdout) as Diff;
    expect(attrsOf(diff.added)).toEqual(['c']);
    expect(diff.removed).toEqual(derivations(before.events).filter((d) => d.attr === 'b'));
    expect(attrsOf(diff.changed)).toEqual(['a']);
    expect(diff.changed[0]!.before).toEqual(derivations(before.events).find((d) => d.attr === 'a'));
    expect(attrsOf(diff.errors)).toEqual(['d']);
    expect(diff.errors[0]!.error).toMatch(/bad/);
    await expectMatchesNix(viaNixInstantiate(`import ${file}`), [...diff.added, diff.changed[0]!.after]);
    // The edited walk is the warm one now: the same diff again finds nothing, and a query sees the edit.
    const again = JSON.parse((await cli(['diff', '--file', file])).stdout) as Diff;
    expect([again.added, again.removed, again.changed]).toEqual([[], [], []]);
    expect(attrsOf((await cli(['query', '--file', file])).events)).toEqual(['a', 'c', 'd']);
  });

  test('diff with no warm session says so in one line and exits 1, instead of listing everything as added', async () => {
    const cold = await cli(['diff', '--file', JOBS]);
    expect([cold.exitCode, cold.stdout, cold.stderr]).toEqual([1, '', 'evix: no warm session for this configuration: run evix eval first']);
    // It walked nothing: there is still no session to query.
    expect((await cli(['query', '--file', JOBS])).exitCode).toBe(1);
    await warm(['--file', JOBS]);
    const diff = JSON.parse((await cli(['diff', '--file', JOBS])).stdout) as Diff;
    expect([diff.added, diff.removed, diff.changed]).toEqual([[], [], []]);
  });

  test('many clients at once', async () => {
    const jobs = await warm(['--file', JOBS]);
    const runs = await Promise.all([
      cli(['eval', '--file', WIDE, '--arg', 'count', '100']),
      cli(['eval', '--file', WIDE, '--arg', 'count', '200']),
      cli(['eval', '--file', JOBS]),
      cli(['query', '--file', JOBS, '--system', 'aarch64-darwin']),
    ]);
    expect(runs.map((r) => r.exitCode)).toEqual([0, 0, 0, 0]);
    // Each client has its own walk's events, whole, and none of another's.
    for (const [run, count] of [
      [runs[0]!, 100],
      [runs[1]!, 200],
    ] as const) {
      const names = derivations(run.events).map((d) => d.name);
      expect(names.toSorted()).toEqual(Array.from({ length: count }, (_, i) => `wide-${i}`).toSorted());
      await expectMatchesNix(viaNixInstantiate(`import ${WIDE} { count = ${count}; }`), derivations(run.events).filter((_, i) => i % 25 === 0));
    }
    expect(lines(runs[2]!.stdout)).toEqual(lines(jobs.stdout));
    expect(runs[3]!.events).toEqual(derivations(jobs.events).filter((d) => d.system === 'aarch64-darwin'));
  });

  test('bad requests get an error reply, an oversized one closes the connection, and the daemon serves on', async () => {
    // One connection: each bad line has its answer, and the connection stays open for the next.
    const bad = await talk(['not json', '{"v":1,"id":5,"op":"ping","extra":true}', '{"v":9,"id":6,"op":"ping"}', '{"v":1,"id":7,"op":"query","config":{"input":{"kind":"file"}},"filter":{}}', '{"v":1,"id":8,"op":"ping"}', ''].join('\n'));
    expect(bad).toEqual({
      replies: [
        { id: null, error: 'request is not JSON' },
        { id: 5, error: 'unknown field request.extra' },
        { id: 6, error: 'protocol version mismatch: the daemon speaks 1, the request 9' },
        { id: 7, error: 'missing field request.config.input.path' },
        { id: 8, pong: { version: 1 } },
      ],
      closedByDaemon: false,
    });
    expect(await talk('x'.repeat(2 * 1024 * 1024))).toEqual({ replies: [{ id: null, error: 'request over 1048576 bytes' }], closedByDaemon: true });
    expect(await talk('{"v":1,"id":9,"op":"ping"}\n')).toEqual({ replies: [{ id: 9, pong: { version: 1 } }], closedByDaemon: false });
    const served = await warm(['--file', JOBS]);
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(served.events));
  });

  test('killed and started again: no warm session until an eval warms one', async () => {
    await warm(['--file', JOBS]);
    expect((await cli(['query', '--file', JOBS])).exitCode).toBe(0);
    await stopDaemon('SIGKILL');
    await startDaemon();
    const cold = await cli(['query', '--file', JOBS]);
    expect(cold.exitCode).toBe(1);
    expect(cold.stderr).toBe('evix: no warm session for this configuration: run evix eval first');
    await warm(['--file', JOBS]);
    expect(attrsOf((await cli(['query', '--file', JOBS, '--system', 'aarch64-linux'])).events)).toEqual(['arm']);
  });

  test('one session per input whatever its spelling: a file relative or absolute, a flake as . or its path', async () => {
    const flake = join(dir, 'flake');
    await mkdir(flake, { recursive: true });
    await writeFile(join(flake, 'flake.nix'), '{ outputs = { self }: { hydraJobs.a = derivation { name = "spelled"; system = "x"; builder = "/bin/sh"; }; }; }\n');
    const file = await warm(['--file', 'jobs.nix'], FIXTURES);
    const drvs = await warm(['--flake', '.#hydraJobs'], flake);
    // Each spelling finds the walk the first one left warm (the daemon has no other).
    for (const spelling of ['./jobs.nix', JOBS]) {
      const query = await cli(['query', '--file', spelling], FIXTURES);
      expect(query.exitCode, `${spelling}: ${query.stderr}`).toBe(0);
      expect(lines(query.stdout)).toEqual([...derivations(file.events), ...errors(file.events)].map((e) => JSON.stringify(e)).sort());
    }
    for (const [spelling, cwd] of [[`${flake}#hydraJobs`, flake], ['./#hydraJobs', flake], ['../flake#hydraJobs', flake]] as const) {
      const query = await cli(['query', '--flake', spelling], cwd);
      expect(query.exitCode, `${spelling}: ${query.stderr}`).toBe(0);
      expect(query.events).toEqual(derivations(drvs.events));
    }
    await expectMatchesNix(viaNixEval(`${flake}#hydraJobs`), derivations(drvs.events));
    // The same spelling elsewhere is another input: jobs.nix from the checkout's root is no file.
    expect((await cli(['query', '--file', 'jobs.nix'])).stderr).toBe('evix: no warm session for this configuration: run evix eval first');
  });

  test('-v says whether a run went through the daemon, and why not', async () => {
    const said = async (...args: string[]) => (await cli(args)).stderr.split('\n');
    expect(await said('eval', '-v', '--file', JOBS)).toContain(`evaluating in the evix daemon at ${socket}`);
    expect(await said('query', '-v', '--file', JOBS)).toContain(`asking the evix daemon at ${socket}`);
    expect(await said('-v', 'diff', '--file', JOBS)).toContain(`asking the evix daemon at ${socket}`);
    expect(await said('eval', '-v', '--file', JOBS, '--no-daemon')).toContain('evaluating here: --no-daemon');
    expect(await said('eval', '-v', '--file', JOBS, '--refresh', '--constituents')).toContain('evaluating here: the daemon does not take --constituents, --refresh');
    // Without -v, not a word of it.
    expect((await cli(['eval', '--file', JOBS])).stderr).not.toMatch(/evaluating|daemon/);
  });

  test('watch walks in the daemon: a query after an update shows the new walk', async () => {
    const file = join(dir, 'watched.nix');
    const job = (name: string) => `${name} = derivation { name = "${name}"; system = "x"; builder = "/bin/sh"; };`;
    await writeFile(file, `{ ${job('a')} ${job('b')} }\n`);
    const watch = watchLines(['--file', file, '--debounce', '100', '-v']);
    try {
      const first = (await watch.next()) as Diff;
      expect([attrsOf(first.added), first.removed, first.changed]).toEqual([['a', 'b'], [], []]);
      expect(watch.stderr()).toContain(`evaluating in the evix daemon at ${socket}`);
      expect(attrsOf((await cli(['query', '--file', file])).events)).toEqual(['a', 'b']);

      await writeFile(file, `{ ${job('a')} ${job('c')} }\n`);
      const second = (await watch.next()) as Diff;
      expect([attrsOf(second.added), attrsOf(second.removed), second.changed]).toEqual([['c'], ['b'], []]);
      const query = await cli(['query', '--file', file]);
      expect(attrsOf(query.events)).toEqual(['a', 'c']);
      await expectMatchesNix(viaNixInstantiate(`import ${file}`), derivations(query.events));

      // A broken edit is an error line; the daemon keeps the last complete walk.
      await writeFile(file, `{ ${job('a')} c = ; }\n`);
      expect(((await watch.next()) as { error: string }).error).toMatch(/syntax error/);
      expect(attrsOf((await cli(['query', '--file', file])).events)).toEqual(['a', 'c']);
    } finally {
      await watch.stop();
    }
    // With a daemon answering, an input with nothing to watch is still refused, and the command ends.
    const expr = await cli(['watch', '--expr', '{ }']);
    expect([expr.exitCode, expr.stderr]).toEqual([2, 'evix: watch needs a file or a local flake (--file or --flake): an expression has no files to watch']);
  });

  test('a restarted daemon is warm again from the evaluation cache', async () => {
    const flake = join(dir, 'flake');
    await mkdir(flake, { recursive: true });
    await writeFile(join(flake, 'flake.nix'), '{ outputs = { self }: { hydraJobs.a = derivation { name = "cached-a"; system = "x"; builder = "/bin/sh"; }; }; }\n');
    const first = await warm(['--flake', `${flake}#hydraJobs`]);
    expect(daemonLog).not.toMatch(/replaying the walk/);
    await stopDaemon('SIGKILL');
    await startDaemon();
    const again = await warm(['--flake', `${flake}#hydraJobs`]);
    expect(daemonLog).toMatch(/replaying the walk from the evaluation cache/);
    expect(lines(again.stdout)).toEqual(lines(first.stdout));
    await expectMatchesNix(viaNixEval(`${flake}#hydraJobs`), derivations(again.events));
    expect(attrsOf((await cli(['query', '--flake', `${flake}#hydraJobs`])).events)).toEqual(['a']);
  });
});

test('without a daemon, eval runs here and query says how to get one', async () => {
  const nobody = await mkdtemp(join(tmpdir(), 'evix-no-daemon-'));
  const elsewhere = { EVIX_SOCKET: join(nobody, 'evix.sock') };
  try {
    const run = await runCli(['eval', '--file', JOBS], { env: elsewhere });
    expect(run.exitCode, run.stderr).toBe(0);
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(run.events));
    expect(run.stderr).not.toMatch(/no evix daemon/);
    expect((await runCli(['eval', '-v', '--file', JOBS], { env: elsewhere })).stderr.split('\n')).toContain(`evaluating here: no evix daemon answers at ${elsewhere.EVIX_SOCKET}`);
    const query = await runCli(['query', '--file', JOBS], { env: elsewhere });
    expect(query.exitCode).toBe(1);
    expect(query.stderr).toBe(`evix: no evix daemon answers at ${elsewhere.EVIX_SOCKET}: start one with evix daemon --foreground`);
  } finally {
    await rm(nobody, { recursive: true, force: true });
  }
});

const runtimeDirectory = `/run/user/${process.getuid?.() ?? 0}`;

test.skipIf(existsSync(runtimeDirectory))(`without a socket named (and no ${runtimeDirectory}), the daemon makes its private directory 0700 under the temporary directory`, async () => {
  const tmp = await mkdtemp(join(tmpdir(), 'evix-default-socket-'));
  const expected = join(tmp, `evix-${process.getuid?.() ?? 0}`, 'evix.sock');
  const { child } = await listeningDaemon([], { TMPDIR: tmp, EVIX_SOCKET: '', XDG_CACHE_HOME: join(tmp, 'cache') });
  try {
    expect((await stat(expected)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(expected))).mode & 0o777).toBe(0o700);
    const run = await runCli(['eval', '--file', JOBS], { env: { EVIX_SOCKET: expected } });
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(run.events));
  } finally {
    child.kill('SIGTERM');
    await child;
    await rm(tmp, { recursive: true, force: true });
  }
});
