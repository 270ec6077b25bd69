/**
 * evixd: evaluated sessions kept warm behind a Unix socket. Each
 * configuration is one Session (its last complete walk kept), in a bounded
 * LRU; walks of one session run one after another, different sessions and
 * clients at once. The socket is 0600, in a 0700 directory when evix
 * makes it (see preparePrivateDirectory); one live daemon per socket.
 */
import { chmod, lstat, rm } from 'node:fs/promises';
import { createServer, type Server, type Socket } from 'node:net';
import { defaultCacheDirectory } from '../cache/directory.js';
import type { EvalConfig } from '../config.js';
import type { Logger } from '../log.js';
import { EvaluationFailed, Session } from '../session/session.js';
import { LineSplitter } from '../lines.js';
import { DaemonClient } from './client.js';
import { DAEMON_PROTOCOL_VERSION, MAX_REQUEST_BYTES, parseRequest, sessionKey, type DaemonReply, type DaemonRequest } from './protocol.js';
import { preparePrivateDirectory } from './socket-path.js';

const NOT_WARM = 'no warm session for this configuration: run evix eval first';

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
    try {
      await this.#listenOnce();
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      await removeStaleSocket(this.#socketPath);
      await this.#listenOnce();
    }
    await chmod(this.#socketPath, 0o600);
  }

  #listenOnce(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(this.#socketPath, () => {
        this.#server.off('error', reject);
        resolve();
      });
    });
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
        const entry = this.#warmEntry(request.config);
        if (!entry) return send({ id: request.id, error: NOT_WARM });
        return send({ id: request.id, events: entry.session.querySnapshot(request.filter) });
      }
      case 'eval':
        await this.#walk(request.config, request.workers, (event) => send({ id: request.id, event }));
        return send({ id: request.id, done: {} });
      case 'diff': {
        // Against nothing, every derivation would be "added": a diff needs a walk to compare with.
        if (!this.#warmEntry(request.config)) return send({ id: request.id, error: NOT_WARM });
        const diff = await this.#walk(request.config, request.workers);
        return send({ id: request.id, diff });
      }
    }
  }

  /** The config's session when it has a complete walk, made the most recently used. */
  #warmEntry(config: EvalConfig): Entry | undefined {
    const key = sessionKey(config);
    const entry = this.#sessions.get(key);
    if (!entry?.session.warm) return undefined;
    this.#touch(key, entry);
    return entry;
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

/**
 * Removes the socket file a daemon that died left behind (it answers
 * nobody). One that something still answers is refused: taking it over
 * would leave that daemon running and unreachable. A file that is not a
 * socket is not ours to remove.
 */
async function removeStaleSocket(socketPath: string): Promise<void> {
  const info = await lstat(socketPath).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return undefined;
    throw error;
  });
  if (!info) return;
  if (!info.isSocket()) throw new Error(`${socketPath} exists and is not a socket`);
  const answered = await DaemonClient.connect(socketPath);
  if (answered) {
    answered.close();
    throw new Error(`another daemon answers at ${socketPath}: stop it first, or choose another socket`);
  }
  await rm(socketPath, { force: true });
}
