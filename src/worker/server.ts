/**
 * `evix worker --listen`: serves evaluation to masters over TCP (or TLS).
 * Each connection is one worker of a master's pool with its own evaluator
 * (a nix repl child) and the server's memory limit.
 *
 * A connection: the server sends Hello (a fresh nonce); the master answers
 * with Setup (its nonce, the MAC, the config); nothing is decoded beyond
 * that frame and nothing is evaluated until the MAC checks out (src/protocol/
 * auth.ts). Then Ready, and Work -> Event -> Status for each item, Work
 * pipelined. A connection that says anything else first, stays silent past
 * the handshake timeout, or sends a bad frame is dropped; others go on.
 */
import { existsSync } from 'node:fs';
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import type { Logger } from '../log.js';
import { clientMac, macEqual, newNonce, NONCE_BYTES, serverProof } from '../protocol/auth.js';
import { PROTOCOL_VERSION, decodeClient, decodeConfig, encodeServer, type ClientMessage, type ServerMessage } from '../protocol/codec.js';
import { MessageConnection } from '../protocol/connection.js';
import { Evaluator, SetupError } from './evaluator.js';
import { applyPolicy, type WorkerPolicy } from './policy.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** When given, clients must present a certificate signed by it (mutual TLS). */
  ca?: Buffer;
}

export interface WorkerServerOptions {
  host: string;
  port: number;
  /** The shared token; undefined only for an explicitly insecure worker. */
  token: Buffer | undefined;
  tls?: TlsFiles;
  policy: WorkerPolicy;
  maxConnections: number;
  /** Caps the memory limit a master asks for. */
  maxMemoryMiB: number;
  handshakeTimeoutMs?: number;
  log: Logger;
}

type ServerConnection = MessageConnection<ClientMessage, ServerMessage>;

/** Answers are held only while at least this many items wait behind them (see Session.#answer). */
const FLUSH_BELOW_QUEUED = 8;
/** And at most this many answers (an Event and a Status each) leave in one write. */
const MAX_HELD_ANSWERS = 16;

export class WorkerServer {
  readonly #options: WorkerServerOptions;
  readonly #server: Server;
  readonly #sessions = new Set<Session>();

  constructor(options: WorkerServerOptions) {
    this.#options = options;
    const onSocket = (socket: Socket) => this.#accept(socket);
    this.#server = options.tls
      ? createTlsServer(
          { cert: options.tls.cert, key: options.tls.key, ...(options.tls.ca ? { ca: options.tls.ca, requestCert: true, rejectUnauthorized: true } : {}) },
          onSocket,
        )
      : createTcpServer(onSocket);
    this.#server.on('tlsClientError', (error: Error) => options.log.warn({ err: error.message }, 'TLS handshake failed'));
  }

  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#options.port, this.#options.host, () => {
        this.#server.off('error', reject);
        resolve(this.#server.address() as AddressInfo);
      });
    });
  }

  get connections(): number {
    return this.#sessions.size;
  }

  /**
   * Stops accepting; every connection finishes the items already sent to
   * its evaluator and is closed, so the master puts anything else back on
   * its queue.
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all([...this.#sessions].map((s) => s.drainAndClose('worker is shutting down')));
    await closed;
  }

  #accept(socket: Socket): void {
    const log = this.#options.log.child({ peer: `${socket.remoteAddress}:${socket.remotePort}` });
    const connection: ServerConnection = new MessageConnection(socket, { decode: decodeClient, encode: encodeServer }, { maxFrameBytes: 4 * 1024 * 1024, maxSegments: 16 });
    if (this.#sessions.size >= this.#options.maxConnections) {
      log.warn('refused: too many connections');
      connection.end({ kind: 'error', message: `worker is busy: ${this.#options.maxConnections} connections already` });
      return;
    }
    const session = new Session(connection, this.#options, log);
    this.#sessions.add(session);
    connection.onClose((error) => {
      this.#sessions.delete(session);
      void session.closed(error);
    });
  }
}

class Session {
  readonly #connection: ServerConnection;
  readonly #options: WorkerServerOptions;
  readonly #log: Logger;
  readonly #nonce = newNonce();
  readonly #handshakeTimer: NodeJS.Timeout;
  #evaluator: Evaluator | undefined;
  #state: 'greeted' | 'setting-up' | 'ready' | 'draining' = 'greeted';
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(connection: ServerConnection, options: WorkerServerOptions, log: Logger) {
    this.#connection = connection;
    this.#options = options;
    this.#log = log;
    connection.onMessage((m) => this.#receive(m));
    connection.send({ kind: 'hello', protocolVersion: PROTOCOL_VERSION, nonce: this.#nonce });
    this.#handshakeTimer = setTimeout(() => this.#refuse('handshake timed out'), options.handshakeTimeoutMs ?? 10_000);
  }

  async closed(error: Error | undefined): Promise<void> {
    clearTimeout(this.#handshakeTimer);
    if (error) this.#log.info({ err: error.message }, 'connection dropped');
    await this.#evaluator?.close();
    this.#drained?.();
  }

  async drainAndClose(reason: string): Promise<void> {
    if (this.#state !== 'ready') {
      this.#refuse(reason);
      return;
    }
    this.#state = 'draining';
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    this.#connection.end({ kind: 'error', message: reason });
    await this.#evaluator?.close();
  }

  #refuse(message: string): void {
    this.#log.warn({ reason: message }, 'connection refused');
    this.#connection.end({ kind: 'error', message });
  }

  #receive(message: ClientMessage): void {
    if (this.#state === 'greeted') {
      if (message.kind !== 'setup') return this.#refuse('expected setup first');
      this.#state = 'setting-up';
      void this.#setup(message);
      return;
    }
    switch (message.kind) {
      case 'work':
        if (this.#state === 'ready') void this.#work(message.id, message.attrPath);
        return;
      case 'ping':
        this.#connection.send({ kind: 'pong', id: message.id });
        return;
      case 'shutdown':
        this.#connection.end();
        return;
      case 'setup':
        return this.#refuse('setup sent twice');
    }
  }

  async #setup(setup: Extract<ClientMessage, { kind: 'setup' }>): Promise<void> {
    clearTimeout(this.#handshakeTimer);
    if (setup.protocolVersion !== PROTOCOL_VERSION) {
      return this.#refuse(`protocol version mismatch: this worker speaks ${PROTOCOL_VERSION}, the master ${setup.protocolVersion}`);
    }
    const token = this.#options.token;
    if (token && (setup.nonce.length !== NONCE_BYTES || !macEqual(clientMac(token, this.#nonce, setup.nonce, setup.config), setup.mac))) {
      return this.#refuse('authentication failed');
    }
    let config: WorkerConfig;
    try {
      config = { ...decodeConfig(setup.config), overrideInputs: [], workdir: process.cwd() };
    } catch (error) {
      return this.#refuse((error as Error).message);
    }
    const decision = applyPolicy({ ...config, maxMemoryMiB: Math.min(config.maxMemoryMiB, this.#options.maxMemoryMiB) }, this.#options.policy);
    if ('refusal' in decision) return this.#refuse(decision.refusal);
    if (decision.config.input.kind === 'file' && !existsSync(decision.config.input.path)) {
      return this.#refuse(`this worker cannot see the input file ${decision.config.input.path}`);
    }
    const evaluator = new Evaluator(decision.config, this.#log);
    this.#evaluator = evaluator;
    try {
      await evaluator.start();
    } catch (error) {
      await evaluator.close();
      return this.#refuse(error instanceof SetupError ? error.message : `cannot start the evaluator: ${(error as Error).message}`);
    }
    if (this.#connection.closed) return;
    this.#state = 'ready';
    this.#connection.send({ kind: 'ready', proof: token ? serverProof(token, this.#nonce, setup.nonce) : Buffer.alloc(0) });
    this.#log.info({ input: decision.config.input.kind }, 'serving');
  }

  /**
   * Answers leave in batches while the master keeps enough work queued here
   * that it is not waiting for them; otherwise (a shallow pipeline, slow
   * items, the end of a run) at once. On loopback, where the extra process
   * competes with the evaluators for CPU, batching took the remote bench
   * from 1.40x to 1.13x of local workers (the writes and wakeups per item
   * were most of the remote's cost).
   */
  #answer(id: number, event: WorkResult, restarted: boolean): void {
    this.#connection.hold({ kind: 'event', id, event });
    this.#connection.hold({ kind: 'status', id, restart: restarted });
    const queuedBehind = this.#inFlight - 1;
    if (queuedBehind < FLUSH_BELOW_QUEUED || this.#connection.held >= 2 * MAX_HELD_ANSWERS) this.#connection.flush();
  }

  async #work(id: number, attrPath: string[]): Promise<void> {
    this.#inFlight++;
    try {
      const { result, restarted } = await this.#evaluator!.evaluate(attrPath);
      this.#answer(id, result, restarted);
    } catch (error) {
      // The evaluator is closed: the connection is going; the master re-queues the item.
      this.#log.debug({ err: (error as Error).message }, 'item dropped');
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    }
  }
}
