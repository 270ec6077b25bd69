/** Talking to evixd: connect if its socket answers, send requests, read replies. */
import { connect, type Socket } from 'node:net';
import { LineSplitter } from '../lines.js';
import { DAEMON_PROTOCOL_VERSION, type DaemonReply, type DaemonRequest } from './protocol.js';

type Body = DaemonRequest extends infer R ? (R extends DaemonRequest ? Omit<R, 'v' | 'id'> : never) : never;

export class DaemonClient {
  readonly #socket: Socket;
  readonly #handlers = new Map<number, (reply: DaemonReply) => boolean>();
  #nextId = 1;
  readonly #lines = new LineSplitter();
  #closed: Error | undefined;

  private constructor(socket: Socket) {
    this.#socket = socket;
    socket.setEncoding('utf8');
    socket.on('data', (chunk: string) => this.#receive(chunk));
    socket.on('error', (error) => (this.#closed ??= error));
    socket.on('close', () => {
      this.#closed ??= new Error('the daemon closed the connection');
      for (const handler of this.#handlers.values()) handler({ id: null, error: this.#closed.message });
      this.#handlers.clear();
    });
  }

  /** A client, or undefined when nothing answers at `socketPath`. */
  static connect(socketPath: string, timeoutMs = 1000): Promise<DaemonClient | undefined> {
    return new Promise((resolve) => {
      const socket = connect(socketPath);
      const timer = setTimeout(() => {
        socket.destroy();
        resolve(undefined);
      }, timeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve(new DaemonClient(socket));
      });
      socket.once('error', () => {
        clearTimeout(timer);
        resolve(undefined);
      });
    });
  }

  /**
   * Sends a request; `onReply` sees each reply to it and returns true on the
   * last one. Resolves when that has come.
   */
  request(body: Body, onReply: (reply: DaemonReply) => boolean): Promise<void> {
    if (this.#closed) return Promise.reject(this.#closed);
    const id = this.#nextId++;
    return new Promise((resolve) => {
      this.#handlers.set(id, (reply) => {
        const last = onReply(reply) || 'error' in reply;
        if (last) {
          this.#handlers.delete(id);
          resolve();
        }
        return last;
      });
      this.#socket.write(`${JSON.stringify({ v: DAEMON_PROTOCOL_VERSION, id, ...body })}\n`);
    });
  }

  close(): void {
    this.#socket.end();
  }

  #receive(chunk: string): void {
    for (const line of this.#lines.push(chunk)) {
      const reply = JSON.parse(line) as DaemonReply;
      if (reply.id === null) for (const handler of [...this.#handlers.values()]) handler(reply);
      else this.#handlers.get(reply.id)?.(reply);
    }
  }
}
