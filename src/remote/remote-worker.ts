/**
 * A Worker whose evaluator is an `evix worker --listen` on another machine:
 * one connection, items pipelined over it (see PipelineDepth). A lost,
 * stalled or crashed connection fails its items with WorkerUnavailableError
 * (the master puts them back on the queue) and is re-established with
 * backoff by recover(); a refusal (authentication, policy, setup) is final.
 */
import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import type { Logger } from '../log.js';
import { REMOTE_PIPELINE_DEPTH, PipelineDepth } from '../master/pipeline-depth.js';
import type { OwnedSystems } from '../master/scheduler.js';
import { WorkerUnavailableError, type Worker } from '../master/worker.js';
import type { AttrPath } from '../nix/syntax.js';
import { clientMac, macEqual, newNonce, serverProof } from '../protocol/auth.js';
import { PROTOCOL_VERSION, decodeServer, encodeClient, encodeConfig, type ClientMessage, type ServerMessage } from '../protocol/codec.js';
import { MessageConnection } from '../protocol/connection.js';

export interface Endpoint {
  host: string;
  port: number;
}

export interface RemoteTls {
  /** Trust anchors for the worker's certificate. */
  ca?: Buffer;
  /** Our certificate and key, for workers that require mutual TLS. */
  cert?: Buffer;
  key?: Buffer;
}

export interface RemoteTimeouts {
  /** Connecting and the whole handshake, setup of the evaluator included. */
  setupMs: number;
  /** With items outstanding and nothing heard for this long, send a ping. */
  pingAfterMs: number;
  /** With items outstanding and nothing heard for this long, the peer is gone. */
  deadAfterMs: number;
  /**
   * Failed connections in a row (attempts and losses with no answer between)
   * before giving up; attempts wait doubling delays from 250 ms up to 5 s.
   */
  reconnectAttempts: number;
}

export const DEFAULT_REMOTE_TIMEOUTS: RemoteTimeouts = { setupMs: 120_000, pingAfterMs: 3_000, deadAfterMs: 10_000, reconnectAttempts: 8 };

export interface RemoteWorkerOptions {
  id: string;
  endpoint: Endpoint;
  systems: OwnedSystems;
  token: Buffer | undefined;
  tls?: RemoteTls;
  timeouts?: Partial<RemoteTimeouts>;
  log: Logger;
}

/** The worker refused us: retrying will not help. */
export class RemoteRefusedError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RemoteRefusedError';
  }
}

type ClientConnection = MessageConnection<ServerMessage, ClientMessage>;

interface Pending {
  resolve: (result: WorkResult) => void;
  reject: (error: Error) => void;
  result?: WorkResult;
  sentAt: number;
}


export class RemoteWorker implements Worker {
  readonly id: string;
  readonly systems: OwnedSystems;
  readonly maxCapacity = REMOTE_PIPELINE_DEPTH;
  readonly #options: RemoteWorkerOptions;
  readonly #timeouts: RemoteTimeouts;
  readonly #log: Logger;
  readonly #depth = new PipelineDepth(REMOTE_PIPELINE_DEPTH);
  readonly #pending = new Map<number, Pending>();
  #config: Buffer | undefined;
  #connection: ClientConnection | undefined;
  #recovering: Promise<boolean> | undefined;
  #nextId = 1;
  #closed = false;
  #watchdog: NodeJS.Timeout | undefined;
  /** A connection still in its handshake, so close() can abandon it. */
  #connecting: ClientConnection | undefined;
  #lossesInARow = 0;

  constructor(options: RemoteWorkerOptions) {
    this.id = options.id;
    this.systems = options.systems;
    this.#options = options;
    this.#timeouts = { ...DEFAULT_REMOTE_TIMEOUTS, ...options.timeouts };
    this.#log = options.log.child({ worker: options.id });
  }

  get capacity(): number {
    return this.#depth.current;
  }

  get #where(): string {
    return `${this.#options.endpoint.host}:${this.#options.endpoint.port}`;
  }

  async setup(config: WorkerConfig): Promise<void> {
    const { workdir: _workdir, overrideInputs: _overrides, ...wire } = config;
    this.#config = encodeConfig(wire);
    this.#connection = await this.#connect();
    this.#watchdog = setInterval(() => this.#watch(), Math.max(250, this.#timeouts.pingAfterMs / 2));
    this.#watchdog.unref();
  }

  evaluate(path: AttrPath): Promise<WorkResult> {
    const connection = this.#connection;
    if (!connection || connection.closed) return Promise.reject(new WorkerUnavailableError(`worker ${this.#where} is not connected`));
    const id = this.#nextId++;
    const sentAt = performance.now();
    const done = new Promise<WorkResult>((resolve, reject) => this.#pending.set(id, { resolve, reject, sentAt }));
    connection.send({ kind: 'work', id, attrPath: [...path] });
    return done;
  }

  recover(): Promise<boolean> {
    this.#recovering ??= this.#reconnect().finally(() => {
      this.#recovering = undefined;
    });
    return this.#recovering;
  }

  async close(): Promise<void> {
    this.#closed = true;
    clearInterval(this.#watchdog);
    this.#connecting?.destroy(new Error('worker closed'));
    const connection = this.#connection;
    this.#connection = undefined;
    if (connection && !connection.closed) {
      const gone = new Promise<void>((resolve) => connection.onClose(() => resolve()));
      connection.end({ kind: 'shutdown' });
      await gone;
    }
    this.#failPending(new WorkerUnavailableError('worker closed'));
  }

  async #reconnect(): Promise<boolean> {
    let delay = 250;
    // Losses with no answer in between count together, so a connection that
    // comes up and falls again at once cannot loop for ever.
    for (let attempt = 1; this.#lossesInARow <= this.#timeouts.reconnectAttempts && !this.#closed; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, delay));
      delay = Math.min(delay * 2, 5000);
      try {
        this.#connection = await this.#connect();
        this.#log.info({ attempt }, 'reconnected');
        return true;
      } catch (error) {
        this.#lossesInARow++;
        this.#log.warn({ attempt, err: (error as Error).message }, 'reconnect failed');
        if (error instanceof RemoteRefusedError) return false;
      }
    }
    return false;
  }

  /** Connects, authenticates and sets up; resolves the ready connection. */
  #connect(): Promise<ClientConnection> {
    const { endpoint, tls, token } = this.#options;
    return new Promise((resolve, reject) => {
      const socket: Socket = tls
        ? connectTls({ host: endpoint.host, port: endpoint.port, servername: endpoint.host, ...tls })
        : connectTcp({ host: endpoint.host, port: endpoint.port });
      const connection: ClientConnection = new MessageConnection(socket, { decode: decodeServer, encode: encodeClient });
      this.#connecting = connection;
      const clientNonce = newNonce();
      let serverNonce: Uint8Array | undefined;
      let settled = false;
      const fail = (error: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        this.#connecting = undefined;
        connection.destroy(error);
        reject(error);
      };
      // A peer must greet at once (a stopped process still accepts TCP
      // connections); setting up its evaluator may take longer.
      let timer = setTimeout(() => fail(new Error(`worker ${this.#where}: no greeting`)), this.#timeouts.deadAfterMs);
      connection.onClose((error) => {
        fail(new Error(`worker ${this.#where}: connection closed during setup${error ? `: ${error.message}` : ''}`));
        if (settled) this.#lost(connection, error);
      });
      connection.onMessage((message) => {
        if (settled) return this.#receive(message);
        if (message.kind === 'error') return fail(new RemoteRefusedError(`worker ${this.#where}: ${message.message}`));
        if (message.kind === 'hello' && serverNonce === undefined) {
          if (message.protocolVersion !== PROTOCOL_VERSION) {
            return fail(new RemoteRefusedError(`worker ${this.#where}: protocol version mismatch: it speaks ${message.protocolVersion}, this master ${PROTOCOL_VERSION}`));
          }
          serverNonce = message.nonce;
          clearTimeout(timer);
          timer = setTimeout(() => fail(new Error(`worker ${this.#where}: setup timed out`)), this.#timeouts.setupMs);
          const config = this.#config!;
          const mac = token ? clientMac(token, serverNonce, clientNonce, config) : Buffer.alloc(0);
          connection.send({ kind: 'setup', protocolVersion: PROTOCOL_VERSION, nonce: clientNonce, mac, config });
          return;
        }
        if (message.kind === 'ready' && serverNonce !== undefined) {
          if (token && !macEqual(serverProof(token, serverNonce, clientNonce), message.proof)) {
            return fail(new RemoteRefusedError(`worker ${this.#where}: the worker could not prove it knows the token`));
          }
          settled = true;
          clearTimeout(timer);
          this.#connecting = undefined;
          resolve(connection);
          return;
        }
        fail(new Error(`worker ${this.#where}: unexpected ${message.kind} during setup`));
      });
    });
  }

  #receive(message: ServerMessage): void {
    switch (message.kind) {
      case 'event': {
        const pending = this.#pending.get(message.id);
        if (pending) pending.result = message.event;
        return;
      }
      case 'status': {
        const pending = this.#pending.get(message.id);
        if (!pending?.result) return;
        this.#pending.delete(message.id);
        this.#lossesInARow = 0;
        this.#depth.answered(pending.sentAt, performance.now());
        if (message.restart) this.#log.debug('remote evaluator restarted past its memory limit');
        pending.resolve(pending.result);
        return;
      }
      case 'error':
        this.#log.warn({ reason: message.message }, 'worker ended the connection');
        this.#connection?.destroy(new Error(message.message));
        return;
      default:
        return;
    }
  }

  /** Pings a silent peer with work outstanding; drops it when it stays silent. */
  #watch(): void {
    const connection = this.#connection;
    if (!connection || connection.closed || this.#pending.size === 0) return;
    const silent = Date.now() - connection.lastReceivedAt;
    if (silent >= this.#timeouts.deadAfterMs) connection.destroy(new Error(`no answer for ${Math.round(silent / 1000)} s`));
    else if (silent >= this.#timeouts.pingAfterMs) connection.send({ kind: 'ping', id: Date.now() });
  }

  #lost(connection: ClientConnection, error: Error | undefined): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#lossesInARow++;
    if (!this.#closed) this.#log.warn({ err: error?.message }, 'connection lost');
    this.#failPending(new WorkerUnavailableError(`worker ${this.#where} lost: ${error?.message ?? 'connection closed'}`));
  }

  #failPending(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}
