/**
 * A message connection over a TCP (or TLS) socket: frames in and out,
 * decoded by the given codec. Sets TCP_NODELAY (a request and its reply
 * would otherwise meet Nagle's delay) and keepalive. A peer that sends a bad
 * frame or an undecodable message is dropped; the error goes to onClose and
 * nothing else in the process is disturbed.
 */
import type { Socket } from 'node:net';
import { FrameDecoder, type FrameLimits } from './framing.js';

/** Bytes a socket may hold unwritten before writable() waits for it to drain. */
const WRITABLE_BYTES = 4 << 20;

export interface Codec<In, Out> {
  decode: (frame: Uint8Array) => In;
  encode: (message: Out) => Buffer;
}

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

  constructor(socket: Socket, codec: Codec<In, Out>, limits?: FrameLimits) {
    this.#socket = socket;
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
   * (an Event and its Status; pipelined Work), not one system call each:
   * each write is a system call here and a wakeup of the peer.
   */
  send(message: Out): void {
    if (!this.#queue(message) || this.#flushAtNextTick) return;
    this.#flushAtNextTick = true;
    process.nextTick(() => {
      this.#flushAtNextTick = false;
      this.#flush();
    });
  }

  /** Writes whatever is queued. */
  #flush(): void {
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
    this.#flush();
    if (last !== undefined) this.#socket.end(this.#codec.encode(last));
    else this.#socket.end();
    // A peer that never reads must not keep the socket open.
    setTimeout(() => this.#socket.destroy(), 2000).unref();
  }

  /** Stops reading from the peer (its sends back up to it over TCP) until resume(). */
  pause(): void {
    this.#socket.pause();
  }

  resume(): void {
    this.#socket.resume();
  }

  /** Resolves once what was sent is mostly written out: a sender of bulk data waits on it between parts. */
  async writable(): Promise<void> {
    this.#flush();
    if (this.#closed || this.#socket.writableLength < WRITABLE_BYTES) return;
    await new Promise<void>((resolve) => {
      const done = () => {
        this.#socket.off('drain', done);
        this.#socket.off('close', done);
        resolve();
      };
      this.#socket.on('drain', done);
      this.#socket.on('close', done);
    });
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
