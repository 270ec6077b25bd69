/**
 * A message connection over a TCP (or TLS) socket: frames in and out,
 * decoded by the given codec. Sets TCP_NODELAY (one small request and reply
 * per attribute would otherwise meet Nagle's delay) and keepalive. A peer
 * that sends a bad frame or an undecodable message is dropped; the error
 * goes to onClose and nothing else in the process is disturbed.
 */
import type { Socket } from 'node:net';
import { FrameDecoder, type FrameLimits } from './framing.js';

export interface Codec<In, Out> {
  decode: (frame: Uint8Array) => In;
  encode: (message: Out) => Buffer;
}

/**
 * How long a held message may wait at most. Well below the time after which
 * the master counts an item as slow (10 ms, src/master/pipeline-depth.ts),
 * so batching never makes a pipeline shrink.
 */
const DEFAULT_HOLD_MS = 2;

export class MessageConnection<In, Out> {
  readonly #socket: Socket;
  readonly #codec: Codec<In, Out>;
  readonly #decoder: FrameDecoder;
  #onMessage: (message: In) => void = () => {};
  #onClose: (error: Error | undefined) => void = () => {};
  #closed = false;
  #ending = false;
  #error: Error | undefined;
  #lastReceivedAt = Date.now();
  #corked = false;
  #flushAtNextTick = false;
  #held = 0;
  #holdTimer: NodeJS.Timeout | undefined;
  readonly #holdMs: number;

  constructor(socket: Socket, codec: Codec<In, Out>, limits?: FrameLimits, options: { holdMs?: number } = {}) {
    this.#socket = socket;
    this.#holdMs = options.holdMs ?? DEFAULT_HOLD_MS;
    this.#codec = codec;
    this.#decoder = new FrameDecoder(limits);
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on('data', (chunk: Buffer) => this.#receive(chunk));
    socket.on('error', (error) => {
      this.#error ??= error;
    });
    socket.on('close', () => {
      this.#closed = true;
      clearTimeout(this.#holdTimer);
      this.#onClose(this.#error);
    });
  }

  onMessage(handler: (message: In) => void): void {
    this.#onMessage = handler;
  }

  onClose(handler: (error: Error | undefined) => void): void {
    this.#onClose = handler;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /** When the peer last sent anything, in ms since the epoch. */
  get lastReceivedAt(): number {
    return this.#lastReceivedAt;
  }

  get remoteAddress(): string {
    return `${this.#socket.remoteAddress ?? '?'}:${this.#socket.remotePort ?? '?'}`;
  }

  /**
   * Queues a message. Messages sent in the same tick leave in one write
   * (an Event and its Status; pipelined Work), not one system call each,
   * together with any held ones.
   */
  send(message: Out): void {
    if (!this.#queue(message) || this.#flushAtNextTick) return;
    this.#flushAtNextTick = true;
    process.nextTick(() => {
      this.#flushAtNextTick = false;
      this.flush();
    });
  }

  /**
   * Queues a message to leave with later ones: at the next flush() or send(),
   * or after `holdMs` at the latest. For answers to pipelined requests while
   * more are queued behind them: each write is a system call here and a
   * wakeup of the peer, which cost more than encoding a small message.
   */
  hold(message: Out): void {
    if (!this.#queue(message)) return;
    this.#held++;
    this.#holdTimer ??= setTimeout(() => this.flush(), this.#holdMs);
  }

  /** Messages held since the last flush. */
  get held(): number {
    return this.#held;
  }

  /** Writes whatever is queued. */
  flush(): void {
    clearTimeout(this.#holdTimer);
    this.#holdTimer = undefined;
    this.#held = 0;
    if (!this.#corked) return;
    this.#corked = false;
    this.#socket.uncork();
  }

  /** Encodes a message into the corked socket; false once closed or ending. */
  #queue(message: Out): boolean {
    if (this.#closed || this.#ending) return false;
    if (!this.#corked) {
      this.#corked = true;
      this.#socket.cork();
    }
    this.#socket.write(this.#codec.encode(message));
    return true;
  }

  /** Sends `last` (if any), then ends the connection once it is flushed; later calls do nothing. */
  end(last?: Out): void {
    if (this.#closed || this.#ending) return;
    this.#ending = true;
    this.flush();
    if (last !== undefined) this.#socket.end(this.#codec.encode(last));
    else this.#socket.end();
    // A peer that never reads must not keep the socket open.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  /** Drops the connection now; `error` is what onClose reports. */
  destroy(error?: Error): void {
    this.#error ??= error;
    this.#socket.destroy();
  }

  #receive(chunk: Buffer): void {
    this.#lastReceivedAt = Date.now();
    let messages: In[];
    try {
      messages = this.#decoder.push(chunk).map((frame) => this.#codec.decode(frame));
    } catch (error) {
      this.destroy(error as Error);
      return;
    }
    for (const message of messages) {
      if (this.#closed) return;
      this.#onMessage(message);
    }
  }
}
