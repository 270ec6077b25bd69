/**
 * The master's side of a connection's handshake: connect (TCP or TLS), wait
 * for Hello, send Setup with the MAC over the config, and check the worker's
 * proof in Ready. Resolves the ready connection; the caller then takes its
 * messages and its close. A refusal by the worker (authentication, policy,
 * setup of its evaluator) is a RemoteRefusedError: retrying will not help.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import type { StoreSource } from '../config.js';
import type { Logger } from '../log.js';
import { narOfLocalPath } from '../nix/nar.js';
import { narOf } from '../nix/ship-sources.js';
import { clientMac, macEqual, newNonce, serverProof } from '../protocol/auth.js';
import { PROTOCOL_VERSION, SOURCE_PART_BYTES, decodeServer, encodeClient, type ClientMessage, type ServerMessage } from '../protocol/codec.js';
import { MessageConnection } from '../protocol/connection.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import type { RemoteTls } from './options.js';

export type ClientConnection = MessageConnection<ServerMessage, ClientMessage>;

export interface HandshakeOptions {
  endpoint: Endpoint;
  tls?: RemoteTls;
  token: Uint8Array | undefined;
  /** The encoded WorkerConfig (codec.encodeConfig): what the MAC covers. */
  config: Buffer;
  /** A peer must greet within this (a stopped process still accepts TCP connections). */
  greetingMs: number;
  /** Setting up the worker's evaluator may take this long. */
  setupMs: number;
  /** Abandons the handshake: the connection is destroyed and the promise rejects. */
  signal?: AbortSignal;
  /** What the config's sources are: the worker may ask for these, and only these, to be sent. */
  sources: readonly StoreSource[];
  log: Logger;
}

/** The worker refused us: retrying will not help. */
export class RemoteRefusedError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = 'RemoteRefusedError';
  }
}

/** Bytes as node:tls's types want them (it takes any byte view at run time): a Buffer over the same memory. */
const asBuffer = (bytes: Uint8Array | undefined) => (bytes === undefined ? undefined : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

/**
 * node:tls is loaded only to connect with TLS: loading it took 2-13 ms of
 * the master's start here (more with NODE_EXTRA_CA_CERTS, whose
 * certificates it reads), before the first connection was made.
 */
async function connect(endpoint: Endpoint, tls: RemoteTls | undefined): Promise<Socket> {
  if (!tls) return connectTcp({ host: endpoint.host, port: endpoint.port });
  const { connect: connectTls } = await import('node:tls');
  return connectTls({ host: endpoint.host, port: endpoint.port, servername: endpoint.host, ca: asBuffer(tls.ca), cert: asBuffer(tls.cert), key: asBuffer(tls.key) });
}

export async function handshake(options: HandshakeOptions): Promise<ClientConnection> {
  const { endpoint, tls, token, signal } = options;
  const where = formatEndpoint(endpoint);
  if (signal?.aborted) throw new Error(`worker ${where}: connection abandoned`);
  const socket = await connect(endpoint, tls);
  return new Promise((resolve, reject) => {
    // Abandoned while node:tls loaded.
    if (signal?.aborted) {
      socket.destroy();
      return reject(new Error(`worker ${where}: connection abandoned`));
    }
    const connection: ClientConnection = new MessageConnection(socket, { decode: decodeServer, encode: encodeClient });
    const clientNonce = newNonce();
    let serverNonce: Uint8Array | undefined;
    let shipping = false;
    let settled = false;
    const abandon = () => fail(new Error(`worker ${where}: connection abandoned`));
    const settle = () => {
      settled = true;
      clearTimeout(timer);
      signal?.removeEventListener('abort', abandon);
    };
    const fail = (error: Error) => {
      if (settled) return;
      settle();
      connection.destroy(error);
      reject(error);
    };
    signal?.addEventListener('abort', abandon);
    let timer = setTimeout(() => fail(new Error(`worker ${where}: no greeting`)), options.greetingMs);
    connection.onClose((error) => fail(new Error(`worker ${where}: connection closed during setup${error ? `: ${error.message}` : ''}`, { cause: error })));
    connection.onMessage((message) => {
      if (settled) return;
      if (message.kind === 'error') return fail(new RemoteRefusedError(`worker ${where}: ${message.message}`));
      if (message.kind === 'hello' && serverNonce === undefined) {
        if (message.protocolVersion !== PROTOCOL_VERSION) {
          return fail(new RemoteRefusedError(`worker ${where}: protocol version mismatch: it speaks ${message.protocolVersion}, this master ${PROTOCOL_VERSION}`));
        }
        serverNonce = message.nonce;
        clearTimeout(timer);
        timer = setTimeout(() => fail(new Error(`worker ${where}: setup timed out`)), options.setupMs);
        const mac = token ? clientMac(token, serverNonce, clientNonce, options.config) : Buffer.alloc(0);
        connection.send({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce: clientNonce, mac, config: options.config });
        return;
      }
      if (message.kind === 'want' && serverNonce !== undefined && !shipping) {
        shipping = true;
        clearTimeout(timer);
        // Importing what was sent is part of the worker's setup: the setup deadline runs again from the last byte.
        // A worker that wanted nothing may be Ready before this settles: a deadline set then would only keep the process alive.
        ship(connection, message.storePaths, options).then(
          () => {
            if (!settled) timer = setTimeout(() => fail(new Error(`worker ${where}: setup timed out`)), options.setupMs);
          },
          (error: Error) => fail(error),
        );
        return;
      }
      if (message.kind === 'ready' && serverNonce !== undefined) {
        if (token && !macEqual(serverProof(token, serverNonce, clientNonce), message.proof)) {
          return fail(new RemoteRefusedError(`worker ${where}: the worker could not prove it knows the token`));
        }
        settle();
        resolve(connection);
        return;
      }
      fail(new Error(`worker ${where}: unexpected ${message.kind} during setup`));
    });
  });
}

/** A large shipment says how far it is every this many bytes. */
const SHIPPING_PROGRESS_BYTES = 64 << 20;

/** Sends the sources a worker asked for, part by part, as fast as the connection takes them. */
async function ship(connection: ClientConnection, storePaths: readonly string[], options: HandshakeOptions): Promise<void> {
  if (storePaths.length === 0) return;
  const where = formatEndpoint(options.endpoint);
  const wanted = storePaths.map((path) => {
    const source = options.sources.find((s) => s.storePath === path);
    if (!source) throw new RemoteRefusedError(`worker ${where}: asked for ${path}, which this run does not ship`);
    return source;
  });
  const bytes = wanted.reduce((sum, s) => sum + s.narSize, 0);
  const started = Date.now();
  options.log.info({ sources: wanted.length, bytes }, 'shipping sources');
  let sent = 0;
  let reported = 0;
  for (const { storePath, readFrom } of wanted) {
    let pending: Buffer = Buffer.alloc(0);
    for await (const chunk of readFrom ? narOfLocalPath(readFrom) : narOf(storePath)) {
      pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
      while (pending.length >= SOURCE_PART_BYTES) {
        connection.send({ kind: 'source', storePath, data: pending.subarray(0, SOURCE_PART_BYTES), last: false });
        pending = pending.subarray(SOURCE_PART_BYTES);
        sent += SOURCE_PART_BYTES;
        if (sent - reported >= SHIPPING_PROGRESS_BYTES) {
          reported = sent;
          options.log.info({ sent, bytes }, 'shipping sources');
        }
        await connection.writable();
      }
      if (connection.closed) throw new Error(`worker ${where}: connection closed while shipping sources`);
    }
    connection.send({ kind: 'source', storePath, data: pending, last: true });
    await connection.writable();
  }
  options.log.info({ sources: wanted.length, bytes, ms: Date.now() - started }, 'shipped sources');
}
