/** Remote workers as real processes on loopback sockets, with real Nix. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import type { RemoteSpec } from '../../src/evaluate.js';
import { FIXTURES, collect, config, derivationSet, derivations, errors, expectMatchesNix, runCli, viaNixInstantiate } from '../helpers.js';
import { startWorker, type WorkerProcess } from '../workers.js';

const TOKEN = 'remote-test-token';
const token = Buffer.from(TOKEN);
const JOBS = `${FIXTURES}/jobs.nix`;
const jobs = config({ kind: 'file', path: JOBS });
const wide = (count: number) => config({ kind: 'file', path: `${FIXTURES}/wide.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: String(count) }] });
const remote = (w: WorkerProcess, systems: string[] = [], connections = 1): RemoteSpec => ({ endpoint: { host: w.host, port: w.port }, systems, connections });
const FAST = { pingAfterMs: 500, deadAfterMs: 2_000, reconnectAttempts: 3 };

const started: WorkerProcess[] = [];
async function worker(args: string[] = []): Promise<WorkerProcess> {
  const w = await startWorker(['--listen', '127.0.0.1:0', ...args], { env: { EVIX_TOKEN: TOKEN } });
  started.push(w);
  return w;
}
afterAll(async () => {
  await Promise.all(started.map((w) => w.stop()));
});

describe('remote workers on loopback', () => {
  let a: WorkerProcess;
  let b: WorkerProcess;
  beforeAll(async () => {
    [a, b] = await Promise.all([worker(), worker()]);
  });

  test('remotes alone give what local workers give, and Nix agrees', async () => {
    const local = await collect(jobs, 2);
    const run = await collect(jobs, 0, { remotes: [remote(a, [], 2), remote(b)], remoteToken: token });
    expect(run.fatal).toBeUndefined();
    expect(derivationSet(run.events)).toEqual(derivationSet(local.events));
    expect(errors(run.events).map((e) => e.attr).sort()).toEqual(errors(local.events).map((e) => e.attr).sort());
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(run.events).slice(0, 6));
  });

  test('derivations go to the worker that owns their system', async () => {
    const run = await collect(jobs, 0, {
      remotes: [remote(a, ['x86_64-linux']), remote(b, ['aarch64-linux', 'aarch64-darwin'])],
      remoteToken: token,
    });
    expect(run.fatal).toBeUndefined();
    expect(derivationSet(run.events)).toEqual(derivationSet((await collect(jobs, 1)).events));
  });

  test('a system nobody owns fails the run with the attribute and the system', async () => {
    const run = await runCli(['eval', '--file', JOBS, '--workers', '0', '--remote', `127.0.0.1:${a.port}`, 'x86_64-linux', '1', '--remote', `127.0.0.1:${b.port}`, 'aarch64-linux', '1'], {
      env: { EVIX_REMOTE_TOKEN: TOKEN },
    });
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toContain('evix: no worker accepted derivation at mac for system aarch64-darwin');
  });

  test('a remote takes its part of the root, an answer longer than one Event, and Nix agrees', async () => {
    // One part of 5000 derivations in 500 sets: 5501 results, past the 4096 an Event holds.
    const run = await collect(wide(5000), 0, { remotes: [remote(a)], remoteToken: token });
    expect(run.fatal).toBeUndefined();
    const drvs = derivations(run.events);
    const { stdout } = await execa('nix-instantiate', ['--expr', `import ${FIXTURES}/wide.nix { count = 5000; }`]);
    expect(drvs.map((d) => d.drvPath).sort()).toEqual(stdout.trim().split('\n').sort());
    expect(run.events.filter((e) => e.attr === '')).toHaveLength(1);
    await expectMatchesNix(viaNixInstantiate(`import ${FIXTURES}/wide.nix { count = 5000; }`), drvs.slice(0, 4));
  });

  test('evix eval through a remote exits as soon as the walk is done', async () => {
    // The worker has the sources and starts nothing at setup, so its Ready follows its Want at once:
    // a setup deadline armed after that Ready kept the master alive for its 120 s, past this test's timeout.
    const run = await runCli(['eval', '--file', JOBS, '--workers', '0', '--remote', `127.0.0.1:${a.port}`, '', '2'], { env: { EVIX_REMOTE_TOKEN: TOKEN } });
    expect(run.exitCode, run.stderr).toBe(0);
    expect(derivationSet(run.events)).toEqual(derivationSet((await collect(jobs, 1)).events));
  }, 60_000);

  test('local and remote workers mix', async () => {
    const run = await collect(wide(200), 1, { remotes: [remote(a, [], 2)], remoteToken: token });
    expect(derivations(run.events)).toHaveLength(200);
  });

  test('a refusal is one clear line: wrong token, no token, impure, a foreign option', async () => {
    const cases: Array<[string[], Record<string, string>, RegExp]> = [
      [['--file', JOBS], { EVIX_REMOTE_TOKEN: 'wrong' }, /authentication failed/],
      [['--file', JOBS], {}, /authentication failed/],
      [['--file', JOBS, '--impure'], { EVIX_REMOTE_TOKEN: TOKEN }, /refuses impure evaluation/],
      [['--file', JOBS, '--option', 'builders', 'ssh://x'], { EVIX_REMOTE_TOKEN: TOKEN }, /does not accept --option builders/],
    ];
    for (const [args, env, pattern] of cases) {
      const run = await runCli(['eval', ...args, '--workers', '0', '--remote', `127.0.0.1:${a.port}`, '', '1'], { env });
      expect(run.exitCode, run.stderr).toBe(1);
      expect(run.stderr.trim().split('\n').at(-1)).toMatch(pattern);
    }
  });

  test('without --allow-impure a file is evaluated restricted to its directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'evix-restricted-'));
    const elsewhere = await mkdtemp(join(tmpdir(), 'evix-secret-'));
    await writeFile(join(elsewhere, 'secret'), 'hush');
    await writeFile(join(dir, 'jobs.nix'), `{ leak = derivation { name = builtins.readFile ${elsewhere}/secret; system = "x"; builder = "/bin/sh"; }; }`);
    const run = await collect(config({ kind: 'file', path: join(dir, 'jobs.nix') }), 0, { remotes: [remote(a)], remoteToken: token });
    expect(errors(run.events)[0]?.error).toMatch(/forbidden in restricted mode/);
    const open = await worker(['--allow-impure']);
    const allowed = await collect(config({ kind: 'file', path: join(dir, 'jobs.nix') }), 0, { remotes: [remote(open)], remoteToken: token });
    expect(derivations(allowed.events).map((d) => d.name)).toEqual(['hush']);
  });
});

describe('failures', () => {
  test('a remote killed mid-run hands its items back; the run completes with nothing lost', async () => {
    const w = await worker();
    let seen = 0;
    const run = await collect(wide(300), 1, {
      remotes: [remote(w, [], 2)],
      remoteToken: token,
      remoteTimeouts: FAST,
      onEvent: () => {
        if (++seen === 60) void w.stop();
      },
    });
    expect(run.fatal).toBeUndefined();
    expect(errors(run.events)).toEqual([]);
    expect(derivations(run.events)).toHaveLength(300);
  });

  test('a remote killed while it streams its part: what it sent stands, the rest comes once, and Nix agrees', async () => {
    // 2000 derivations in 200 sets, a part each for the local worker and the remote (the even and the odd
    // sets), a line of 256 results every ~0.3 s. The drvs are written first, so that both sweep read-only.
    const input = config({ kind: 'file', path: `${FIXTURES}/slow.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: '2000' }, { name: 'work', kind: 'expr', value: '2000' }] });
    const { stdout } = await execa('nix-instantiate', ['--expr', `import ${FIXTURES}/slow.nix { count = 2000; work = 2000; }`]);
    const w = await worker();
    const seen = [0, 0];
    let atKill: number[] | undefined;
    const run = await collect(input, 1, {
      remotes: [remote(w)],
      remoteToken: token,
      remoteTimeouts: FAST,
      onEvent: (event) => {
        const group = /^g(\d+)/.exec(event.attr);
        if (!group) return;
        seen[Number(group[1]) % 2]!++;
        // Once both parts have streamed a few lines, and before either is done (1100 results each).
        if (atKill === undefined && Math.min(...seen) >= 300) {
          atKill = [...seen];
          void w.stop();
        }
      },
    });
    expect(atKill, 'the remote streamed some of its part before it was killed').toBeDefined();
    expect(Math.max(...atKill!)).toBeLessThan(1100);
    expect(run.fatal).toBeUndefined();
    expect(errors(run.events)).toEqual([]);
    const attrs = run.events.map((e) => e.attr);
    expect(new Set(attrs).size, 'no attribute delivered twice').toBe(attrs.length);
    expect(attrs).toHaveLength(2201);
    expect(derivations(run.events).map((d) => d.drvPath).sort()).toEqual(stdout.trim().split('\n').sort());
  }, 60_000);

  test('a stalled remote (SIGSTOP) is detected by its silence and its items move', async () => {
    const w = await worker();
    let seen = 0;
    const run = await collect(wide(200), 1, {
      remotes: [remote(w)],
      remoteToken: token,
      remoteTimeouts: FAST,
      onEvent: () => {
        if (++seen === 30) w.process.kill('SIGSTOP');
      },
    });
    w.process.kill('SIGCONT');
    expect(run.fatal).toBeUndefined();
    expect(derivations(run.events)).toHaveLength(200);
  });

  test('the master reconnects to a worker that comes back', async () => {
    const first = await worker();
    const port = first.port;
    let seen = 0;
    let restarted: Promise<WorkerProcess> | undefined;
    const run = await collect(wide(200), 0, {
      remotes: [remote(first)],
      remoteToken: token,
      remoteTimeouts: { ...FAST, reconnectAttempts: 8 },
      onEvent: () => {
        if (++seen !== 50) return;
        restarted = first.stop().then(() => worker(['--listen', `127.0.0.1:${port}`]));
      },
    });
    expect(restarted).toBeDefined();
    await restarted;
    expect(run.fatal).toBeUndefined();
    expect(derivations(run.events)).toHaveLength(200);
  });

  test('when no worker can be reached the run fails clearly instead of hanging', async () => {
    const run = await runCli(['eval', '--file', JOBS, '--workers', '0', '--remote', '127.0.0.1:1', '', '1']);
    expect(run.exitCode).toBe(1);
    expect(run.stderr).toMatch(/evix: worker 127\.0\.0\.1:1: .*ECONNREFUSED/);
  });

  test('a worker refuses to listen beyond loopback without a token', async () => {
    const run = await runCli(['worker', '--listen', '0.0.0.0:0']);
    expect(run.exitCode).toBe(2);
    expect(run.stderr).toMatch(/without a token/);
  });
});

describe('the worker process', () => {
  test('SIGTERM finishes the items in flight and hands the rest back', async () => {
    const w = await worker();
    let seen = 0;
    let exited: Promise<unknown> | undefined;
    const run = await collect(wide(300), 1, {
      remotes: [remote(w, [], 2)],
      remoteToken: token,
      remoteTimeouts: FAST,
      onEvent: () => {
        if (++seen !== 40) return;
        w.process.kill('SIGTERM');
        exited = w.process;
      },
    });
    expect(run.fatal).toBeUndefined();
    expect(derivations(run.events)).toHaveLength(300);
    const result = (await exited) as { exitCode?: number };
    expect(result.exitCode).toBe(0);
    expect(w.stderr()).not.toMatch(/Error|at .*\.js/);
  });
});
