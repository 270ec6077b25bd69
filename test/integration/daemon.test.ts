/** evixd as a real process: warm sessions, query, diff, many clients, restarts, a guarded socket. */
import { copyFile, mkdir, mkdtemp, readFile, stat, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ROOT, FIXTURES, derivations, runCli } from '../helpers.js';

let dir: string;
let socket: string;
let daemon: ResultPromise | undefined;
let daemonLog = '';

async function startDaemon(): Promise<void> {
  const child = execa(process.execPath, [`${ROOT}dist/bin/evixd.js`, '--foreground', '--socket', socket, '-v'], {
    reject: false,
    buffer: false,
    env: { XDG_CACHE_HOME: join(dir, 'cache') },
  });
  daemonLog = '';
  await new Promise<void>((resolve, reject) => {
    let said = '';
    child.stderr.on('data', (chunk: Buffer) => {
      said += chunk.toString();
      daemonLog += chunk.toString();
      if (said.includes('listening on')) resolve();
    });
    void child.then(() => reject(new Error(`daemon exited: ${said}`)));
  });
  daemon = child;
}

async function stopDaemon(signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  daemon?.kill(signal);
  await daemon;
  daemon = undefined;
}

const cli = (args: string[]) => runCli(args, { env: { EVIX_SOCKET: socket } });
const lines = (stdout: string) => stdout.trim().split('\n').sort();

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evix-daemon-'));
  socket = join(dir, 'run', 'evix.sock');
  await copyFile(`${FIXTURES}/jobs.nix`, join(dir, 'jobs.nix'));
  await startDaemon();
});
afterAll(async () => {
  await stopDaemon();
});

describe('evixd', () => {
  test('the socket is 0600 in a 0700 directory', async () => {
    expect((await stat(socket)).mode & 0o777).toBe(0o600);
    expect((await stat(dirname(socket))).mode & 0o777).toBe(0o700);
  });

  test('eval through the daemon prints what a local eval prints, and leaves the session warm', async () => {
    const jobs = join(dir, 'jobs.nix');
    const viaDaemon = await cli(['eval', '--file', jobs, '--workers', '2']);
    const local = await cli(['eval', '--file', jobs, '--no-daemon']);
    expect(viaDaemon.exitCode).toBe(0);
    expect(lines(viaDaemon.stdout)).toEqual(lines(local.stdout));
    const all = await cli(['query', '--file', jobs]);
    expect(derivations(all.events).length).toBe(derivations(local.events).length);
  });

  test('query by system and by attr prefix, exact attr and glob', async () => {
    const jobs = join(dir, 'jobs.nix');
    const attrs = async (...args: string[]) => (await cli(['query', '--file', jobs, ...args])).events.map((e) => e.attr);
    expect(await attrs('--system', 'aarch64-linux')).toEqual(['arm']);
    expect(await attrs('--system', 'aarch64-linux', '--system', 'aarch64-darwin')).toEqual(['arm', 'mac']);
    expect(await attrs('--attr-prefix', 'nested')).toEqual(['nested.deeper.leaf', 'nested.inner']);
    expect(await attrs('--attr-prefix', 'nested.inner')).toEqual(['nested.inner']);
    expect(await attrs('--attr-prefix', 'm*')).toEqual(['mac', 'multi', 'missing']);
  });

  test('diff after an edit: added, removed, changed; the new graph becomes warm', async () => {
    const file = join(dir, 'edited.nix');
    await writeFile(file, '{ a = derivation { name = "a"; system = "x"; builder = "/bin/sh"; }; b = derivation { name = "b"; system = "x"; builder = "/bin/sh"; }; }\n');
    expect((await cli(['eval', '--file', file])).exitCode).toBe(0);
    await writeFile(file, '{ a = derivation { name = "a2"; system = "x"; builder = "/bin/sh"; }; c = derivation { name = "c"; system = "x"; builder = "/bin/sh"; }; d = throw "bad"; }\n');
    const diff = JSON.parse((await cli(['diff', '--file', file])).stdout) as { added: Array<{ attr: string }>; removed: Array<{ attr: string }>; changed: Array<{ attr: string }>; errors: Array<{ attr: string }> };
    expect(diff.added.map((d) => d.attr)).toEqual(['c']);
    expect(diff.removed.map((d) => d.attr)).toEqual(['b']);
    expect(diff.changed.map((d) => d.attr)).toEqual(['a']);
    expect(diff.errors.map((d) => d.attr)).toEqual(['d']);
    const again = JSON.parse((await cli(['diff', '--file', file])).stdout) as typeof diff;
    expect([again.added, again.removed, again.changed]).toEqual([[], [], []]);
  });

  test('many clients at once', async () => {
    const wide = `${FIXTURES}/wide.nix`;
    const runs = await Promise.all([
      cli(['eval', '--file', wide, '--arg', 'count', '100']),
      cli(['eval', '--file', wide, '--arg', 'count', '200']),
      cli(['eval', '--file', join(dir, 'jobs.nix')]),
      cli(['query', '--file', join(dir, 'jobs.nix'), '--system', 'aarch64-darwin']),
    ]);
    expect(derivations(runs[0]!.events)).toHaveLength(100);
    expect(derivations(runs[1]!.events)).toHaveLength(200);
    expect(runs.every((r) => r.exitCode === 0)).toBe(true);
  });

  test('bad requests get an error reply, an oversized one closes the connection, and the daemon serves on', async () => {
    const talk = (payload: string) =>
      new Promise<string>((resolve) => {
        const s = connect(socket);
        let got = '';
        s.on('data', (chunk) => (got += chunk.toString()));
        s.on('close', () => resolve(got));
        s.on('error', () => resolve(got));
        s.write(payload, () => setTimeout(() => s.end(), 300));
      });
    expect(JSON.parse(await talk('not json\n'))).toEqual({ id: null, error: 'request is not JSON' });
    expect(JSON.parse(await talk('{"v":1,"id":5,"op":"ping","extra":true}\n'))).toEqual({ id: 5, error: 'unknown field request.extra' });
    expect(JSON.parse(await talk('{"v":9,"id":6,"op":"ping"}\n'))).toEqual({ id: 6, error: 'protocol version mismatch: the daemon speaks 1, the request 9' });
    expect(JSON.parse(await talk('{"v":1,"id":7,"op":"query","config":{"input":{"kind":"file"}},"filter":{}}\n')).error).toBe('missing field request.config.input.path');
    expect(JSON.parse(await talk('{"v":1,"id":8,"op":"ping"}\n'))).toEqual({ id: 8, pong: { version: 1 } });
    const oversized = await talk('x'.repeat(2 * 1024 * 1024));
    expect(JSON.parse(oversized.split('\n')[0]!)).toEqual({ id: null, error: 'request over 1048576 bytes' });
    expect((await cli(['query', '--file', join(dir, 'jobs.nix'), '--system', 'aarch64-linux'])).exitCode).toBe(0);
  });

  test('killed and started again: no warm session until an eval warms one', async () => {
    await stopDaemon('SIGKILL');
    await startDaemon();
    const cold = await cli(['query', '--file', join(dir, 'jobs.nix')]);
    expect(cold.exitCode).toBe(1);
    expect(cold.stderr).toBe('evix: no warm session for this configuration: run evix eval first');
    expect((await cli(['eval', '--file', join(dir, 'jobs.nix')])).exitCode).toBe(0);
    expect((await cli(['query', '--file', join(dir, 'jobs.nix'), '--system', 'aarch64-linux'])).events.map((e) => e.attr)).toEqual(['arm']);
  });

  test('a restarted daemon is warm again from the evaluation cache', async () => {
    const flake = join(dir, 'flake');
    await mkdir(flake, { recursive: true });
    await writeFile(join(flake, 'flake.nix'), '{ outputs = { self }: { hydraJobs.a = derivation { name = "cached-a"; system = "x"; builder = "/bin/sh"; }; }; }\n');
    expect((await cli(['eval', '--flake', `${flake}#hydraJobs`])).exitCode).toBe(0);
    expect(daemonLog).not.toMatch(/replaying the walk/);
    await stopDaemon('SIGKILL');
    await startDaemon();
    const again = await cli(['eval', '--flake', `${flake}#hydraJobs`]);
    expect(derivations(again.events).map((d) => d.name)).toEqual(['cached-a']);
    expect(daemonLog).toMatch(/replaying the walk from the evaluation cache/);
    expect((await cli(['query', '--flake', `${flake}#hydraJobs`])).events.map((e) => e.attr)).toEqual(['a']);
  });

  test('without a daemon, eval runs here and query says how to get one', async () => {
    const elsewhere = { EVIX_SOCKET: join(dir, 'nobody', 'evix.sock') };
    const run = await runCli(['eval', '--file', join(dir, 'jobs.nix')], { env: elsewhere });
    expect(run.exitCode).toBe(0);
    const query = await runCli(['query', '--file', join(dir, 'jobs.nix')], { env: elsewhere });
    expect(query.exitCode).toBe(1);
    expect(query.stderr).toMatch(/^evix: no evix daemon answers at .*: start one with evix daemon --foreground$/);
    expect(await readFile(join(dir, 'jobs.nix'), 'utf8')).toContain('recurseForDerivations');
  });
});
