/**
 * Keeps one connection to a remote worker: opens it, watches its liveness
 * while work is outstanding (a ping after a silence, dropped after a longer
 * one), and re-establishes it with backoff after a loss. close() ends all of
 * it at once: a backoff sleep or a handshake in progress is abandoned, so no
 * connection is made after close().
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { Logger } from '../log.js';
import type { ServerMessage } from '../protocol/codec.js';
import { RemoteRefusedError, type ClientConnection } from './client-handshake.js';
import type { RemoteTimeouts } from './options.js';

const FIRST_BACKOFF_MS = 250;
const MAX_BACKOFF_MS = 5000;

export interface ConnectionKeeperOptions {
  /** Makes a ready connection (see handshake()); abandons it when `signal` aborts. */
  connect: (signal: AbortSignal) => Promise<ClientConnection>;
  /** Messages of the current connection. */
  onMessage: (message: ServerMessage) => void;
  /** The current connection is gone; whatever was sent over it is lost. */
  onLost: (error: Error) => void;
  /** Whether answers are awaited: only then is silence a sign of a dead peer. */
  awaitingAnswers: () => boolean;
  timeouts: RemoteTimeouts;
  log: Logger;
}

export class ConnectionKeeper {
  readonly #options: ConnectionKeeperOptions;
  readonly #closing = new AbortController();
  #connection: ClientConnection | undefined;
  #reconnecting: Promise<boolean> | undefined;
  #lossesInARow = 0;
  #watchdog: NodeJS.Timeout | undefined;

  constructor(options: ConnectionKeeperOptions) {
    this.#options = options;
  }

  /** The ready connection, if there is one now. */
  get connection(): ClientConnection | undefined {
    return this.#connection?.closed ? undefined : this.#connection;
  }

  /** Opens the first connection; rejects when it cannot be made. */
  async open(): Promise<void> {
    this.#adopt(await this.#options.connect(this.#closing.signal));
    const { pingAfterMs } = this.#options.timeouts;
    this.#watchdog = setInterval(() => this.#watch(), Math.max(250, pingAfterMs / 2));
    this.#watchdog.unref();
  }

  /** An answer arrived: the connection works, so earlier losses no longer count against it. */
  answered(): void {
    this.#lossesInARow = 0;
  }

  /**
   * After a loss: resolves true once a new connection is ready, false when
   * the worker refused us, too many attempts failed, or close() was called.
   * Concurrent calls share one attempt.
   */
  reconnect(): Promise<boolean> {
    this.#reconnecting ??= this.#reconnectWithBackoff().finally(() => {
      this.#reconnecting = undefined;
    });
    return this.#reconnecting;
  }

  /** Ends the connection (Shutdown, then waits for it to close) and abandons any reconnection. */
  async close(): Promise<void> {
    this.#closing.abort();
    clearInterval(this.#watchdog);
    const connection = this.connection;
    this.#connection = undefined;
    if (!connection) return;
    const gone = new Promise<void>((resolve) => connection.onClose(() => resolve()));
    connection.end({ kind: 'shutdown' });
    await gone;
  }

  async #reconnectWithBackoff(): Promise<boolean> {
    const { signal } = this.#closing;
    const { reconnectAttempts } = this.#options.timeouts;
    let delay = FIRST_BACKOFF_MS;
    // Losses with no answer in between count together, so a connection that
    // comes up and falls again at once cannot loop for ever.
    for (let attempt = 1; this.#lossesInARow <= reconnectAttempts; attempt++) {
      try {
        await sleep(delay, undefined, { signal });
        this.#adopt(await this.#options.connect(signal));
        this.#options.log.info({ attempt }, 'reconnected');
        return true;
      } catch (error) {
        if (signal.aborted) return false;
        this.#lossesInARow++;
        this.#options.log.warn({ attempt, err: (error as Error).message }, 'reconnect failed');
        if (error instanceof RemoteRefusedError) return false;
      }
      delay = Math.min(delay * 2, MAX_BACKOFF_MS);
    }
    return false;
  }

  #adopt(connection: ClientConnection): void {
    if (this.#closing.signal.aborted) {
      connection.destroy(new Error('worker closed'));
      throw new Error('worker closed');
    }
    this.#connection = connection;
    connection.onMessage(this.#options.onMessage);
    connection.onClose((error) => this.#lost(connection, error));
    // It may have closed between its Ready and now.
    if (connection.closed) this.#lost(connection, undefined);
  }

  #lost(connection: ClientConnection, error: Error | undefined): void {
    if (this.#connection !== connection) return;
    this.#connection = undefined;
    this.#lossesInARow++;
    if (!this.#closing.signal.aborted) this.#options.log.warn({ err: error?.message }, 'connection lost');
    this.#options.onLost(error ?? new Error('connection closed'));
  }

  /** Pings a silent peer with answers outstanding; drops it when it stays silent. */
  #watch(): void {
    const connection = this.connection;
    if (!connection || !this.#options.awaitingAnswers()) return;
    const { pingAfterMs, deadAfterMs } = this.#options.timeouts;
    const silent = Date.now() - connection.lastReceivedAt;
    if (silent >= deadAfterMs) connection.destroy(new Error(`no answer for ${Math.round(silent / 1000)} s`));
    else if (silent >= pingAfterMs) connection.send({ kind: 'ping', id: Date.now() });
  }
}
