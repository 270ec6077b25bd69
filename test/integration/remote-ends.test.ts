/**
 * Both ends of a remote worker in this process (RemoteWorker against a
 * WorkerServer on loopback) with real Nix: what the master sees when the
 * worker's evaluator can no longer work, and setup refusals.
 */
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa } from 'execa';
import { afterEach, expect, test } from 'vitest';
import { completeConfig, type WorkerConfig } from '../../src/config.js';
import { createLogger, silentLogger } from '../../src/log.js';
import { WorkerUnavailableError } from '../../src/master/worker.js';
import { RemoteRefusedError } from '../../src/remote/client-handshake.js';
import { shippedConfig } from '../../src/nix/ship-sources.js';
import { RemoteWorker } from '../../src/remote/remote-worker.js';
import { WorkerServer } from '../../src/remote/worker-server.js';
import type { WorkChunk } from '../../src/work.js';
import { unstreamed } from '../helpers.js';

const WIDE = fileURLToPath(new URL('../fixtures/wide.nix', import.meta.url));

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  await Promise.all(cleanups.splice(0).map((c) => c()));
});

async function serve(limits: { maxConnections?: number } = {}): Promise<{ port: number }> {
  const server = new WorkerServer({
    host: '127.0.0.1',
    port: 0,
    token: undefined,
    policy: { allowImpure: true, allowedOptions: new Set() },
    maxConnections: limits.maxConnections ?? 4,
    maxMemoryMiB: 4096,
    log: process.env.DEBUG_EVIX ? createLogger('debug') : silentLogger,
  });
  const { port } = await server.listen();
  cleanups.push(() => server.close());
  return { port };
}

/** A remote worker of a master that ships as `shipped` does (as the CLI does, by default). */
function remote(port: number, shipped: (config: WorkerConfig) => Promise<WorkerConfig> = shippedConfig): RemoteWorker {
  const worker = new RemoteWorker({
    id: 'r',
    endpoint: { host: '127.0.0.1', port },
    systems: undefined,
    token: undefined,
    timeouts: { pingAfterMs: 200, deadAfterMs: 60_000, reconnectAttempts: 2 },
    shipped,
    log: silentLogger,
  });
  cleanups.push(() => worker.close());
  return worker;
}

const fileConfig = (path: string): WorkerConfig => ({ ...completeConfig({ input: { kind: 'file', path } }), input: { kind: 'file', path } });

/** A chunk of the one attribute at `path`, the budget that walks nothing more, and no streaming. */
const one = (...path: string[]): [WorkChunk, number, () => void] => [[{ kind: 'path', path }], 1, unstreamed];

/** The `nix repl` children of this process. */
async function replChildren(): Promise<number[]> {
  const { stdout } = await execa('pgrep', ['-P', String(process.pid), '-f', 'repl'], { reject: false });
  return stdout.split('\n').filter(Boolean).map(Number);
}

test('an evaluator that cannot start again ends the connection: the item goes back instead of hanging', async () => {
  const { port } = await serve();
  const worker = remote(port);
  await worker.setup(fileConfig(WIDE));
  expect(await worker.evaluate(...one('g0', 'd0'))).toMatchObject([{ name: 'wide-0' }]);

  // The child dies, and its replacement cannot start: Nix is gone from the PATH.
  const children = await replChildren();
  expect(children).toHaveLength(1);
  const path = process.env.PATH;
  process.env.PATH = '/nonexistent';
  cleanups.push(async () => {
    process.env.PATH = path;
  });
  process.kill(children[0]!, 'SIGKILL');
  await sleep(200);

  const answer = worker.evaluate(...one('g0', 'd1'));
  // Pings still get pongs, so only an answer or the end of the connection can settle this.
  const settled = await Promise.race([answer.then(() => 'answered', (error: unknown) => error), sleep(10_000, 'still waiting')]);
  expect(settled).toBeInstanceOf(WorkerUnavailableError);
  expect((settled as Error).message).toMatch(/the evaluator failed: could not start the nix evaluator/);
  // Reconnecting meets the same failure at setup: a refusal, so the master stops trying.
  expect(await worker.recover()).toBe(false);
});

test('a chunk of roots and siblings crosses as one Work and its results come back in order', async () => {
  const { port } = await serve();
  const worker = remote(port);
  await worker.setup(fileConfig(WIDE));
  const chunk: WorkChunk = [
    { kind: 'path', path: ['g1', 'd0'] },
    { kind: 'siblings', parent: ['g0'], from: 2, names: ['d2', 'd3', 'd4'] },
  ];
  expect(await worker.evaluate(chunk, 4, unstreamed)).toMatchObject([{ name: 'wide-10' }, { name: 'wide-2' }, { name: 'wide-3' }, { name: 'wide-4' }]);
});

test('a file the master names without shipping it is refused at setup, in one line', async () => {
  const { port } = await serve();
  const worker = remote(port, async (config) => config);
  const setup = worker.setup(fileConfig(WIDE));
  await expect(setup).rejects.toThrow(RemoteRefusedError);
  await expect(setup).rejects.toThrow(`worker 127.0.0.1:${port}: the input file ${WIDE} was not shipped: this worker reads only what the master sends`);
});

test('--max-connections: a connection past the limit is refused, the ones within it are served', async () => {
  const { port } = await serve({ maxConnections: 1 });
  const first = remote(port);
  await first.setup(fileConfig(WIDE));
  const second = remote(port);
  await expect(second.setup(fileConfig(WIDE))).rejects.toThrow(`worker 127.0.0.1:${port}: worker is busy: 1 connections already`);
  expect(await first.evaluate(...one('g0', 'd1'))).toMatchObject([{ name: 'wide-1' }]);
});

test('past the memory limit the master asks for, the evaluator is replaced after each item, and the master is told', async () => {
  const { port } = await serve();
  const worker = remote(port);
  await worker.setup({ ...fileConfig(WIDE), maxMemoryMiB: 1 });
  for (let i = 0; i < 5; i++) expect(await worker.evaluate(...one('g0', `d${i}`))).toMatchObject([{ name: `wide-${i}` }]);
  expect(worker.restarts).toBe(5);
});
