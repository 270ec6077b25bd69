/**
 * A Worker whose evaluator is an `evix worker --listen` on another machine:
 * chunks pipelined over one connection, kept by a ConnectionKeeper. A lost,
 * stalled or crashed connection fails its chunks with WorkerUnavailableError
 * (the master puts them back on the queue) and recover() waits for the
 * keeper to reconnect; a refusal (authentication, policy, setup) is final.
 */
import type { WorkerConfig } from '../config.js';
import type { Logger } from '../log.js';
import type { OwnedSystems } from '../master/scheduler.js';
import { WorkerUnavailableError, type Worker } from '../master/worker.js';
import { encodeConfig, MAX_CHUNK_ATTRIBUTES, type ServerMessage } from '../protocol/codec.js';
import type { WorkResult } from '../events.js';
import type { ChunkAnswer, WorkChunk } from '../work.js';
import { handshake } from './client-handshake.js';
import { ConnectionKeeper } from './connection-keeper.js';
import { formatEndpoint, type Endpoint } from './endpoint.js';
import { DEFAULT_REMOTE_TIMEOUTS, type RemoteTimeouts, type RemoteTls } from './options.js';

/**
 * Chunks a remote worker keeps in flight at most. A chunk is already a
 * batch, one frame each way however many attributes it names; a few in
 * flight let the next chunks cross the network while one is evaluated, so
 * the worker's evaluator does not sit idle for a round trip between chunks.
 * More would only hold work on one worker that another could take.
 */
export const REMOTE_PIPELINE_DEPTH = 4;

export interface RemoteWorkerOptions {
  id: string;
  endpoint: Endpoint;
  systems: OwnedSystems;
  token: Uint8Array | undefined;
  tls?: RemoteTls;
  timeouts?: Partial<RemoteTimeouts>;
  /**
   * The config as remote workers get it: naming only the store paths it
   * ships them (see src/nix/ship-sources.ts). Shared by a run's remotes,
   * so prepared once.
   */
  shipped: (config: WorkerConfig) => Promise<WorkerConfig>;
  log: Logger;
}

interface Pending {
  resolve: (results: ChunkAnswer) => void;
  reject: (error: Error) => void;
  /** The Event's results, kept until its Status arrives; for a part, an empty list once its first Event streamed. */
  results?: WorkResult[];
  /** The chunk holds a part: its answer is streamed here, Event by Event (any other fits in one). */
  stream: ((results: ChunkAnswer) => void) | undefined;
}

export class RemoteWorker implements Worker {
  readonly id: string;
  readonly systems: OwnedSystems;
  readonly maxCapacity = REMOTE_PIPELINE_DEPTH;
  /** The worker's evaluator sweeps a part (Evaluator.evaluate), its answer streamed in as many Events as it needs. */
  readonly answersParts = true;
  readonly #options: RemoteWorkerOptions;
  readonly #log: Logger;
  readonly #where: string;
  readonly #pending = new Map<number, Pending>();
  #keeper: ConnectionKeeper | undefined;
  #nextId = 1;
  #restarts = 0;

  constructor(options: RemoteWorkerOptions) {
    this.id = options.id;
    this.systems = options.systems;
    this.#options = options;
    this.#where = formatEndpoint(options.endpoint);
    this.#log = options.log.child({ worker: options.id });
  }

  async setup(config: WorkerConfig): Promise<void> {
    // The worker resolves paths in its own directory and gets the master's lock, not its overrides.
    const shipped = await this.#options.shipped(config);
    const { workdir: _workdir, overrideInputs: _overrides, evalStore: _store, overrideFlakes: _registry, referenceLockFile: _lock, ...wire } = shipped;
    const encoded = encodeConfig(wire);
    const sources = shipped.sources ?? [];
    const { endpoint, tls, token } = this.#options;
    const timeouts = { ...DEFAULT_REMOTE_TIMEOUTS, ...this.#options.timeouts };
    this.#keeper = new ConnectionKeeper({
      connect: (signal) =>
        handshake({ endpoint, token, config: encoded, sources, greetingMs: timeouts.deadAfterMs, setupMs: timeouts.setupMs, signal, log: this.#log, ...(tls ? { tls } : {}) }),
      onMessage: (message) => this.#receive(message),
      onLost: (error) => this.#failPending(new WorkerUnavailableError(`worker ${this.#where} lost: ${error.message}`, { cause: error })),
      awaitingAnswers: () => this.#pending.size > 0,
      timeouts,
      log: this.#log,
    });
    await this.#keeper.open();
  }

  /**
   * The budget is held to the protocol's bound (a worker drops a connection
   * past it); walking less only leaves more children to the master's queue.
   * The chunk itself must be within that bound already.
   */
  evaluate(chunk: WorkChunk, budget: number, stream: (results: ChunkAnswer) => void): Promise<ChunkAnswer> {
    const connection = this.#keeper?.connection;
    if (!connection) return Promise.reject(new WorkerUnavailableError(`worker ${this.#where} is not connected`));
    const id = this.#nextId++;
    const holdsPart = chunk.some((unit) => unit.kind === 'part');
    const done = new Promise<ChunkAnswer>((resolve, reject) => this.#pending.set(id, { resolve, reject, stream: holdsPart ? stream : undefined }));
    connection.send({ kind: 'work', id, chunk, budget: Math.min(budget, MAX_CHUNK_ATTRIBUTES) });
    return done;
  }

  /** How many times the remote evaluator was replaced for passing its memory limit (Status restart). */
  get restarts(): number {
    return this.#restarts;
  }

  recover(): Promise<boolean> {
    return this.#keeper?.reconnect() ?? Promise.resolve(false);
  }

  async close(): Promise<void> {
    await this.#keeper?.close();
    this.#failPending(new WorkerUnavailableError('worker closed'));
  }

  #receive(message: ServerMessage): void {
    switch (message.kind) {
      case 'event': {
        const pending = this.#pending.get(message.id);
        if (!pending) return;
        if (pending.stream) {
          pending.results ??= [];
          pending.stream(message.events);
        } else if (!pending.results) pending.results = message.events;
        else this.#keeper?.connection?.destroy(new Error('the worker answered a chunk in more than one event'));
        return;
      }
      case 'status': {
        const pending = this.#pending.get(message.id);
        if (!pending?.results) return;
        this.#pending.delete(message.id);
        this.#keeper?.answered();
        if (message.restart) {
          this.#restarts++;
          this.#log.debug('remote evaluator restarted past its memory limit');
        }
        pending.resolve(pending.results);
        return;
      }
      case 'error':
        this.#log.warn({ reason: message.message }, 'worker ended the connection');
        this.#keeper?.connection?.destroy(new Error(message.message));
        return;
      default:
        return;
    }
  }

  #failPending(error: Error): void {
    const pending = [...this.#pending.values()];
    this.#pending.clear();
    for (const p of pending) p.reject(error);
  }
}
