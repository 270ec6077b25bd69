/**
 * `evix worker --listen`: serves evaluation to masters over TCP (or TLS).
 * Each connection is one worker of a master's pool with its own evaluator
 * (a nix repl child); the evaluators share one memory budget; what a connection does
 * is src/remote/served-connection.ts. A connection that says anything but
 * Setup first, stays silent past the handshake timeout, or sends a bad frame
 * is dropped; others go on.
 *
 * A connection takes one of the --max-connections evaluator slots only once
 * its Setup proves the token. Until then it is one of at most
 * MAX_GREETING connections in handshake, for at most the handshake timeout;
 * past that many, the oldest is dropped for the newest. So strangers that
 * connect and say nothing (or stop reading) cannot hold the slots a master
 * with the token needs: once, 16 silent connections refused such a master
 * for as long as they were reopened.
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../log.js';
import { decodeClient, encodeServer } from '../protocol/codec.js';
import { MessageConnection } from '../protocol/connection.js';
import { MemoryBudget } from '../worker/memory-budget.js';
import { SourceShelf } from './source-receipt.js';
import { ServedConnection, type ServerConnection, type ServingLimits } from './served-connection.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** When given, clients must present a certificate signed by it (mutual TLS). */
  ca?: Buffer;
}

/** Connections in handshake at once, past which the oldest is dropped for the newest. */
export const MAX_GREETING = 64;

export interface WorkerServerOptions extends Omit<ServingLimits, 'handshakeTimeoutMs' | 'budget' | 'claimSlot' | 'sources' | 'health'> {
  host: string;
  port: number;
  tls?: TlsFiles;
  maxConnections: number;
  /** 5 s by default. */
  handshakeTimeoutMs?: number;
  log: Logger;
}

export class WorkerServer {
  readonly #options: WorkerServerOptions;
  readonly #server: Server;
  /** Connections whose master proved the token: each holds an evaluator slot. */
  readonly #served = new Set<ServedConnection>();
  /** Connections in handshake, oldest first (a Map keeps insertion order). */
  readonly #greeting = new Map<ServedConnection, ServerConnection>();
  /** Its connections' evaluators keep together to --max-connections × --max-memory. */
  readonly #budget: MemoryBudget;
  readonly #sources = new SourceShelf();
  /** Whether an evaluator of a connection could not start lately: setups then check by starting theirs (see ServedConnection). */
  readonly #health = { evaluatorFailed: false };

  constructor(options: WorkerServerOptions) {
    this.#options = options;
    this.#budget = new MemoryBudget(options.maxConnections * options.maxMemoryMiB);
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
    return this.#served.size;
  }

  /**
   * Stops accepting; every connection finishes the chunks already sent to
   * its evaluator and is closed, so the master puts anything else back on
   * its queue.
   */
  async close(): Promise<void> {
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await Promise.all([...this.#served, ...this.#greeting.keys()].map((s) => s.drainAndClose('worker is shutting down')));
    await closed;
  }

  #accept(socket: Socket): void {
    const { log: parent, maxConnections, token, policy, maxMemoryMiB, handshakeTimeoutMs = 5_000 } = this.#options;
    const log = parent.child({ peer: `${socket.remoteAddress}:${socket.remotePort}` });
    const connection: ServerConnection = new MessageConnection(socket, { decode: decodeClient, encode: encodeServer }, { maxFrameBytes: 4 * 1024 * 1024, maxSegments: 16 });
    if (this.#greeting.size >= MAX_GREETING) {
      const [oldest, its] = this.#greeting.entries().next().value!;
      this.#greeting.delete(oldest);
      log.debug('too many connections in handshake: dropping the oldest');
      its.end({ kind: 'error', message: 'handshake not finished in time' });
    }
    const claimSlot = (): string | undefined => {
      if (this.#served.size >= maxConnections) return `worker is busy: ${maxConnections} connections already`;
      this.#greeting.delete(served);
      this.#served.add(served);
      return undefined;
    };
    const served: ServedConnection = new ServedConnection(connection, { token, policy, maxMemoryMiB, budget: this.#budget, handshakeTimeoutMs, claimSlot, sources: this.#sources, health: this.#health }, log);
    this.#greeting.set(served, connection);
    connection.onClose((error) => {
      this.#greeting.delete(served);
      this.#served.delete(served);
      void served.closed(error);
    });
  }
}
