/**
 * evixd: evaluated sessions kept warm behind a Unix socket. Each
 * configuration is one Session (its last complete walk kept), in a bounded
 * LRU; walks of one session run one after another, different sessions and
 * clients at once. The socket is 0600 in a 0700 directory.
 */
import { chmod, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { defaultCacheDirectory } from '../cache/directory.js';
import type { EvalConfig } from '../config.js';
import type { Logger } from '../log.js';
import { EvaluationFailed, Session } from '../session/session.js';
import { LineSplitter } from '../lines.js';
import { DAEMON_PROTOCOL_VERSION, MAX_REQUEST_BYTES, parseRequest, sessionKey, type DaemonReply, type DaemonRequest } from './protocol.js';
import { preparePrivateDirectory } from './socket-path.js';

interface Entry {
  session: Session;
  /** The walk in progress or last run; the next waits for it. */
  busy: Promise<unknown>;
}

export class DaemonServer {
  readonly #socketPath: string;
  readonly #maxSessions: number;
  readonly #log: Logger;
  readonly #sessions = new Map<string, Entry>();
  readonly #server: Server;

  constructor(options: { socketPath: string; maxSessions: number; log: Logger }) {
    this.#socketPath = options.socketPath;
    this.#maxSessions = options.maxSessions;
    this.#log = options.log;
    this.#server = createServer((socket) => this.#serve(socket));
  }

  async listen(): Promise<void> {
    await preparePrivateDirectory(this.#socketPath);
    // A socket file left by a daemon that died answers nobody: replace it.
    await rm(this.#socketPath, { force: true });
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#socketPath, () => resolve());
    });
    await chmod(this.#socketPath, 0o600);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
    await rm(this.#socketPath, { force: true });
  }

  #serve(socket: Socket): void {
    const lines = new LineSplitter();
    const send = (reply: DaemonReply) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(reply)}\n`);
    };
    socket.setEncoding('utf8');
    socket.on('error', () => {});
    socket.on('data', (chunk: string) => {
      for (const line of lines.push(chunk)) if (line.trim() !== '') void this.#handle(line, send);
      if (lines.pending.length > MAX_REQUEST_BYTES) {
        send({ id: null, error: `request over ${MAX_REQUEST_BYTES} bytes` });
        socket.end();
        lines.clear();
      }
    });
  }

  async #handle(line: string, send: (reply: DaemonReply) => void): Promise<void> {
    const request = parseRequest(line);
    if ('error' in request) return send(request);
    try {
      await this.#run(request, send);
    } catch (error) {
      const message = (error as Error).message;
      if (request.op === 'eval') send({ id: request.id, done: { fatal: error instanceof EvaluationFailed ? error.failure : { kind: 'daemon', message } } });
      else send({ id: request.id, error: message });
    }
  }

  async #run(request: DaemonRequest, send: (reply: DaemonReply) => void): Promise<void> {
    switch (request.op) {
      case 'ping':
        return send({ id: request.id, pong: { version: DAEMON_PROTOCOL_VERSION } });
      case 'query': {
        const key = sessionKey(request.config);
        const entry = this.#sessions.get(key);
        if (!entry?.session.warm) return send({ id: request.id, error: 'no warm session for this configuration: run evix eval first' });
        this.#touch(key, entry);
        return send({ id: request.id, events: entry.session.querySnapshot(request.filter) });
      }
      case 'eval':
        await this.#walk(request.config, request.workers, (event) => send({ id: request.id, event }));
        return send({ id: request.id, done: {} });
      case 'diff': {
        const diff = await this.#walk(request.config, request.workers);
        return send({ id: request.id, diff });
      }
    }
  }

  /** One walk of the config's session, after any walk of it still running. */
  async #walk(config: EvalConfig, workers: number, onEvent?: Parameters<Session['refresh']>[0]) {
    const key = sessionKey(config);
    let entry = this.#sessions.get(key);
    if (!entry) {
      const evalCache = { directory: defaultCacheDirectory(), refresh: false };
      entry = { session: await Session.open(config, { workers: Math.max(1, workers), log: this.#log, evalCache }), busy: Promise.resolve() };
      this.#sessions.set(key, entry);
    }
    this.#touch(key, entry);
    // After the previous walk whatever its outcome: its failure went to its own requester.
    const next = () => entry.session.refresh(onEvent);
    const walk = entry.busy.then(next, next);
    entry.busy = walk;
    return walk;
  }

  /** Most recently used last; past the bound, the least recently used goes. */
  #touch(key: string, entry: Entry): void {
    this.#sessions.delete(key);
    this.#sessions.set(key, entry);
    while (this.#sessions.size > this.#maxSessions) {
      const oldest = this.#sessions.keys().next().value!;
      this.#sessions.delete(oldest);
      this.#log.info('dropped the least recently used session');
    }
  }
}
