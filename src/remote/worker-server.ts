/**
 * `evix worker --listen`: serves evaluation to masters over TCP (or TLS).
 * Each connection is one worker of a master's pool with its own evaluator
 * (a nix repl child); the evaluators share one memory budget; what a connection does
 * is src/remote/served-connection.ts. A connection that says anything but
 * Setup first, stays silent past the handshake timeout, or sends a bad frame
 * is dropped; others go on.
 */
import { createServer as createTcpServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { createServer as createTlsServer } from 'node:tls';
import type { Logger } from '../log.js';
import { decodeClient, encodeServer } from '../protocol/codec.js';
import { MessageConnection } from '../protocol/connection.js';
import { MemoryBudget } from '../worker/memory-budget.js';
import { ServedConnection, type ServerConnection, type ServingLimits } from './served-connection.js';

export interface TlsFiles {
  cert: Buffer;
  key: Buffer;
  /** When given, clients must present a certificate signed by it (mutual TLS). */
  ca?: Buffer;
}

export interface WorkerServerOptions extends Omit<ServingLimits, 'handshakeTimeoutMs' | 'budget'> {
  host: string;
  port: number;
  tls?: TlsFiles;
  maxConnections: number;
  /** 10 s by default. */
  handshakeTimeoutMs?: number;
  log: Logger;
}

export class WorkerServer {
  readonly #options: WorkerServerOptions;
  readonly #server: Server;
  readonly #served = new Set<ServedConnection>();
  /** Its connections' evaluators keep together to --max-connections × --max-memory. */
  readonly #budget: MemoryBudget;

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
    await Promise.all([...this.#served].map((s) => s.drainAndClose('worker is shutting down')));
    await closed;
  }

  #accept(socket: Socket): void {
    const { log: parent, maxConnections, token, policy, maxMemoryMiB, handshakeTimeoutMs = 10_000 } = this.#options;
    const log = parent.child({ peer: `${socket.remoteAddress}:${socket.remotePort}` });
    const connection: ServerConnection = new MessageConnection(socket, { decode: decodeClient, encode: encodeServer }, { maxFrameBytes: 4 * 1024 * 1024, maxSegments: 16 });
    if (this.#served.size >= maxConnections) {
      log.warn('refused: too many connections');
      connection.end({ kind: 'error', message: `worker is busy: ${maxConnections} connections already` });
      return;
    }
    const served = new ServedConnection(connection, { token, policy, maxMemoryMiB, budget: this.#budget, handshakeTimeoutMs }, log);
    this.#served.add(served);
    connection.onClose((error) => {
      this.#served.delete(served);
      void served.closed(error);
    });
  }
}
