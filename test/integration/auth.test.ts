/**
 * The worker's door: nothing is evaluated before authentication, and a
 * misbehaving peer is dropped while the worker goes on serving others.
 * Raw sockets speak the protocol by hand here.
 */
import { createHash, randomUUID } from 'node:crypto';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { StoreSource } from '../../src/config.js';
import { sourceStorePath, sriSha256 } from '../../src/nix/store-path.js';
import { clientMac, newNonce } from '../../src/protocol/auth.js';
import { PROTOCOL_VERSION, decodeServer, encodeClient, encodeConfig, type ServerMessage, type WireConfig } from '../../src/protocol/codec.js';
import { FrameDecoder } from '../../src/protocol/framing.js';
import { MAX_GREETING } from '../../src/remote/worker-server.js';
import { FIXTURES, collect, config, derivations } from '../helpers.js';
import { startWorker, type WorkerProcess } from '../workers.js';

const TOKEN = Buffer.from('door-token');
let w: WorkerProcess;

beforeAll(async () => {
  w = await startWorker(['--listen', '127.0.0.1:0'], { env: { EVIX_TOKEN: TOKEN.toString() } });
});
afterAll(async () => {
  await w.stop();
});

const { workdir: _w, overrideInputs: _o, input: _i, ...options } = config({ kind: 'expr', expr: '' });
const wire = { ...options, input: { kind: 'expr' as const, expr: '{ a = derivation { name = "door"; system = "x"; builder = "/bin/sh"; }; }' } };
const configBytes = encodeConfig(wire);

/** A raw connection that records every server message and when it closed. */
class RawClient {
  readonly socket: Socket;
  readonly messages: ServerMessage[] = [];
  readonly closed: Promise<void>;
  readonly #decoder = new FrameDecoder();
  #waiters: Array<() => void> = [];

  constructor() {
    this.socket = connect({ host: '127.0.0.1', port: w.port });
    this.socket.on('data', (chunk: Buffer) => {
      for (const frame of this.#decoder.push(chunk)) this.messages.push(decodeServer(frame));
      for (const wake of this.#waiters.splice(0)) wake();
    });
    this.closed = new Promise((resolve) => this.socket.on('close', () => resolve()));
    this.socket.on('error', () => {});
  }

  async next(kind: ServerMessage['kind']): Promise<ServerMessage> {
    for (;;) {
      const found = this.messages.find((m) => m.kind === kind);
      if (found) return found;
      await Promise.race([new Promise<void>((resolve) => this.#waiters.push(resolve)), this.closed.then(() => Promise.reject(new Error(`closed before ${kind}`)))]);
    }
  }

  async hello(): Promise<Uint8Array> {
    const hello = await this.next('hello');
    if (hello.kind !== 'hello') throw new Error('no hello');
    return hello.nonce;
  }
}

async function nixChildren(): Promise<number> {
  const { stdout } = await execa('pgrep', ['-P', String(w.process.pid), '-x', 'nix'], { reject: false });
  return stdout.split('\n').filter((l) => l !== '').length;
}

async function expectStillServing(): Promise<void> {
  const run = await collect(config({ kind: 'file', path: `${FIXTURES}/wide.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: '20' }] }), 0, {
    remotes: [{ endpoint: { host: '127.0.0.1', port: w.port }, systems: [], connections: 1 }],
    remoteToken: TOKEN,
  });
  expect(derivations(run.events)).toHaveLength(20);
}

test('a setup signed with the wrong token is refused before anything is evaluated', async () => {
  const client = new RawClient();
  const serverNonce = await client.hello();
  const nonce = newNonce();
  const mac = clientMac(Buffer.from('not-the-token'), serverNonce, nonce, configBytes);
  client.socket.write(encodeClient({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce, mac, config: configBytes }));
  expect(await client.next('error')).toEqual({ kind: 'error', message: 'authentication failed' });
  await client.closed;
  expect(client.messages.some((m) => m.kind === 'ready')).toBe(false);
  expect(await nixChildren()).toBe(0);
  await expectStillServing();
});

test('a setup without a MAC is refused', async () => {
  const client = new RawClient();
  await client.hello();
  client.socket.write(encodeClient({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce: newNonce(), mac: new Uint8Array(), config: configBytes }));
  expect(await client.next('error')).toEqual({ kind: 'error', message: 'authentication failed' });
  await client.closed;
});

test('a recorded handshake replayed on a new connection is refused', async () => {
  const first = new RawClient();
  const serverNonce = await first.hello();
  const nonce = newNonce();
  const setup = encodeClient({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce, mac: clientMac(TOKEN, serverNonce, nonce, configBytes), config: configBytes });
  first.socket.write(setup);
  expect((await first.next('ready')).kind).toBe('ready');
  first.socket.write(encodeClient({ kind: 'work', id: 1, chunk: [{ kind: 'path', path: ['a'] }], budget: 1 }));
  const event = await first.next('event');
  expect(event.kind === 'event' && event.events.length === 1 && 'drvPath' in event.events[0]!).toBe(true);
  first.socket.end();

  const replay = new RawClient();
  await replay.hello();
  replay.socket.write(setup);
  expect(await replay.next('error')).toEqual({ kind: 'error', message: 'authentication failed' });
  await replay.closed;
});

test('work before the handshake, garbage and an oversized frame are dropped', async () => {
  const early = new RawClient();
  await early.hello();
  early.socket.write(encodeClient({ kind: 'work', id: 1, chunk: [{ kind: 'path', path: ['a'] }], budget: 1 }));
  expect(await early.next('error')).toEqual({ kind: 'error', message: 'expected setup first' });
  await early.closed;

  const garbage = new RawClient();
  garbage.socket.write('GET / HTTP/1.1\r\nHost: worker\r\n\r\n');
  await garbage.closed;
  expect(garbage.messages.map((m) => m.kind)).toEqual(['hello']);

  const huge = new RawClient();
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0, 0);
  header.writeUInt32LE(64 * 1024 * 1024, 4);
  huge.socket.write(header);
  await huge.closed;

  expect(await nixChildren()).toBe(0);
  await expectStillServing();
});

test('a protocol version mismatch is named', async () => {
  const client = new RawClient();
  await client.hello();
  client.socket.write(encodeClient({ kind: 'setup', protocolVersion: 99, nonce: newNonce(), mac: new Uint8Array(), config: configBytes }));
  expect(await client.next('error')).toEqual({ kind: 'error', message: `protocol version mismatch: this worker speaks ${PROTOCOL_VERSION}, the master 99` });
});

test('a silent connection is dropped after the handshake timeout', async () => {
  const client = new RawClient();
  await client.hello();
  await client.closed;
  expect(await client.next('error').catch(() => undefined)).toEqual({ kind: 'error', message: 'handshake timed out' });
}, 20_000);

test('strangers that connect and say nothing hold no evaluator slot: a master with the token still evaluates', async () => {
  const single = await startWorker(['--listen', '127.0.0.1:0', '--max-connections', '1'], { env: { EVIX_TOKEN: TOKEN.toString() } });
  // More silent peers than the handshake allowance, none of them reading.
  const strangers = await Promise.all(
    Array.from({ length: MAX_GREETING + 8 }, () => new Promise<Socket>((resolve) => {
      const socket = connect({ host: '127.0.0.1', port: single.port }, () => resolve(socket));
      socket.pause();
      socket.on('error', () => {});
    })),
  );
  try {
    const run = await collect(config({ kind: 'file', path: `${FIXTURES}/wide.nix` }, { autoArgs: [{ name: 'count', kind: 'expr', value: '20' }] }), 0, {
      remotes: [{ endpoint: { host: '127.0.0.1', port: single.port }, systems: [], connections: 1 }],
      remoteToken: TOKEN,
    });
    expect(run.fatal).toBeUndefined();
    expect(derivations(run.events)).toHaveLength(20);
  } finally {
    for (const socket of strangers) socket.destroy();
    await single.stop();
  }
});

/** A directory of fresh content, not in any store yet: its NAR and the source it would be. */
async function freshSource(): Promise<{ nar: Buffer; source: StoreSource; content: string }> {
  const directory = await mkdtemp(join(tmpdir(), 'evixship'));
  const content = `content ${randomUUID()}\n`;
  await writeFile(join(directory, 'file'), content);
  const { stdout: nar } = await execa('nix-store', ['--dump', directory], { encoding: 'buffer' });
  const digest = createHash('sha256').update(nar).digest();
  const source = { storePath: sourceStorePath(digest, basename(directory)), narHash: sriSha256(digest), narSize: nar.length };
  return { nar: Buffer.from(nar), source, content };
}

/** Sets up a raw connection whose config ships `sources`; resolves the worker's Want. */
async function setupShipping(client: RawClient, sources: StoreSource[]): Promise<ServerMessage> {
  const serverNonce = await client.hello();
  const nonce = newNonce();
  const shipping = encodeConfig({ ...wire, sources });
  client.socket.write(encodeClient({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce, mac: clientMac(TOKEN, serverNonce, nonce, shipping), config: shipping }));
  return Promise.race([client.next('want'), client.next('error')]);
}

const isValid = async (path: string) => (await execa('nix-store', ['--check-validity', path], { reject: false })).exitCode === 0;

test('a shipped source is imported only when its bytes hash to what the setup said', async () => {
  const tampered = await freshSource();
  const client = new RawClient();
  expect(await setupShipping(client, [tampered.source])).toEqual({ kind: 'want', storePaths: [tampered.source.storePath] });
  const at = tampered.nar.indexOf(tampered.content);
  const bytes = Buffer.from(tampered.nar);
  bytes[at] = bytes[at]! ^ 1; // still a valid NAR, of other content
  client.socket.write(encodeClient({ kind: 'source', storePath: tampered.source.storePath, data: bytes, last: true }));
  expect(await client.next('error')).toEqual({
    kind: 'error',
    message: `cannot take the shipped source: ${tampered.source.storePath}: what was received does not match its NAR hash`,
  });
  expect(await isValid(tampered.source.storePath)).toBe(false);

  const genuine = await freshSource();
  const honest = new RawClient();
  await setupShipping(honest, [genuine.source]);
  honest.socket.write(encodeClient({ kind: 'source', storePath: genuine.source.storePath, data: genuine.nar, last: true }));
  await honest.next('ready');
  expect(await isValid(genuine.source.storePath)).toBe(true);
  // Now it has it: another setup asks for nothing.
  expect(await setupShipping(new RawClient(), [genuine.source])).toEqual({ kind: 'want', storePaths: [] });
  honest.socket.end();
});

test('a worker takes no source it did not ask for, and none under a path its hash does not give', async () => {
  const wanted = await freshSource();
  const other = await freshSource();
  const client = new RawClient();
  await setupShipping(client, [wanted.source]);
  client.socket.write(encodeClient({ kind: 'source', storePath: other.source.storePath, data: other.nar, last: true }));
  expect(await client.next('error')).toEqual({
    kind: 'error',
    message: `cannot take the shipped source: sent ${other.source.storePath}, which was not asked for (expected ${wanted.source.storePath})`,
  });
  expect(await isValid(other.source.storePath)).toBe(false);

  // The other's content announced under the wanted one's path: refused before anything is sent.
  const lying = new RawClient();
  expect(await setupShipping(lying, [{ ...other.source, storePath: wanted.source.storePath }])).toEqual({
    kind: 'error',
    message: `the shipped source ${wanted.source.storePath} is not the store path its NAR hash gives`,
  });
});

test('a setup naming a host path the master did not ship is refused', async () => {
  const cases: Array<[Partial<WireConfig>, string]> = [
    [{ input: { kind: 'file', path: '/etc/passwd' } }, 'the input file /etc/passwd was not shipped: this worker reads only what the master sends'],
    [{ includePaths: ['secrets=/root'] }, 'the -I entry secrets=/root was not shipped: this worker reads only what the master sends'],
    [{ input: { kind: 'flake', lockedUrl: 'git+file:///srv/repo', attrPath: [], lockJson: JSON.stringify({ root: { type: 'git', url: 'file:///srv/repo' }, locks: { root: 'root', nodes: { root: {} } } }) } }, 'the flake git+file:///srv/repo was not shipped with its inputs: this worker reads only what the master sends'],
  ];
  for (const [shipped, refusal] of cases) {
    const client = new RawClient();
    const serverNonce = await client.hello();
    const nonce = newNonce();
    const bytes = encodeConfig({ ...wire, ...shipped });
    client.socket.write(encodeClient({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce, mac: clientMac(TOKEN, serverNonce, nonce, bytes), config: bytes }));
    expect(await client.next('error')).toEqual({ kind: 'error', message: refusal });
  }
});
