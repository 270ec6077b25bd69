/**
 * One master's connection to `evix worker`, as the worker serves it: the
 * handshake (Hello, then Setup with the MAC checked before anything else is
 * decoded or evaluated, then Ready), then Work -> Event -> Status for each
 * chunk with its own evaluator, until Shutdown or the connection drops.
 *
 * Every Work gets an answer or the connection ends: an evaluator that can no
 * longer evaluate (its child died and a new one could not be set up) ends
 * the connection with the reason, so the master puts the chunks back on its
 * queue instead of waiting for answers that will never come.
 */
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import { InputError } from '../failures.js';
import type { Logger } from '../log.js';
import { clientMac, macEqual, newNonce, NONCE_BYTES, serverProof } from '../protocol/auth.js';
import { MAX_CHUNK_ATTRIBUTES, PROTOCOL_VERSION, decodeConfig, type ClientMessage, type ServerMessage } from '../protocol/codec.js';
import type { MessageConnection } from '../protocol/connection.js';
import { Evaluator } from '../worker/evaluator.js';
import type { MemoryBudget } from '../worker/memory-budget.js';
import { applyPolicy, type WorkerPolicy } from './policy.js';
import type { SourceReceipt, SourceShelf } from './source-receipt.js';

export type ServerConnection = MessageConnection<ClientMessage, ServerMessage>;

export interface ServingLimits {
  /** The shared token; undefined only for an explicitly insecure worker. */
  token: Buffer | undefined;
  policy: WorkerPolicy;
  /** Caps the memory limit a master asks for. */
  maxMemoryMiB: number;
  /** The budget every connection's evaluator shares (see MemoryBudget). */
  budget: MemoryBudget;
  /**
   * Called once the master has proved it holds the token: the connection
   * takes an evaluator slot now, not when it was accepted. A refusal (every
   * slot taken) comes back as the message to end it with.
   */
  claimSlot: () => string | undefined;
  handshakeTimeoutMs: number;
  /** The worker's shipped sources, shared by its connections. */
  sources: SourceShelf;
  /** Shared by the worker's connections: an evaluator of one of them could not start (see #setup). */
  health: { evaluatorFailed: boolean };
}

/** NAR bytes a connection queues for import before it stops reading from the master. */
const QUEUED_SOURCE_BYTES = 16 << 20;

export class ServedConnection {
  readonly #connection: ServerConnection;
  readonly #limits: ServingLimits;
  readonly #log: Logger;
  readonly #nonce = newNonce();
  readonly #handshakeTimer: NodeJS.Timeout;
  #evaluator: Evaluator | undefined;
  #state: 'greeted' | 'setting-up' | 'receiving' | 'ready' | 'draining' = 'greeted';
  #receipt: SourceReceipt | undefined;
  /** Parts taken so far, in order; rejects with the first that failed. */
  #imported: Promise<void> = Promise.resolve();
  #queuedBytes = 0;
  /** Settles the receiving: undefined once every wanted source is in the store, or why it failed. */
  #sourcesDone: ((failure: string | undefined) => void) | undefined;
  #inFlight = 0;
  #drained: (() => void) | undefined;

  constructor(connection: ServerConnection, limits: ServingLimits, log: Logger) {
    this.#connection = connection;
    this.#limits = limits;
    this.#log = log;
    connection.onMessage((m) => this.#receive(m));
    connection.send({ kind: 'hello', protocolVersion: PROTOCOL_VERSION, nonce: this.#nonce });
    this.#handshakeTimer = setTimeout(() => this.#refuse('handshake timed out'), limits.handshakeTimeoutMs);
  }

  async closed(error: Error | undefined): Promise<void> {
    clearTimeout(this.#handshakeTimer);
    if (error) this.#log.info({ err: error.message }, 'connection dropped');
    this.#sourcesDone?.('the connection closed');
    await this.#evaluator?.close();
    this.#drained?.();
  }

  /** Finishes the chunks already sent to the evaluator, then ends the connection with `reason`. */
  async drainAndClose(reason: string): Promise<void> {
    if (this.#state !== 'ready') {
      this.#refuse(reason);
      return;
    }
    this.#state = 'draining';
    if (this.#inFlight > 0) await new Promise<void>((resolve) => (this.#drained = resolve));
    this.#connection.end({ kind: 'error', message: reason });
    await this.#evaluator?.close();
  }

  #refuse(message: string): void {
    this.#log.warn({ reason: message }, 'connection refused');
    this.#connection.end({ kind: 'error', message });
  }

  #receive(message: ClientMessage): void {
    if (this.#state === 'greeted') {
      if (message.kind !== 'setup') return this.#refuse('expected setup first');
      this.#state = 'setting-up';
      void this.#setup(message);
      return;
    }
    switch (message.kind) {
      case 'source':
        if (this.#state === 'receiving') this.#take(message);
        else this.#refuse('a source was sent that was not asked for');
        return;
      case 'work':
        if (this.#state === 'ready') void this.#work(message);
        return;
      case 'ping':
        this.#connection.send({ kind: 'pong', id: message.id });
        return;
      case 'shutdown':
        this.#connection.end();
        return;
      case 'setup':
        return this.#refuse('setup sent twice');
    }
  }

  async #setup(setup: Extract<ClientMessage, { kind: 'setup' }>): Promise<void> {
    clearTimeout(this.#handshakeTimer);
    if (setup.protocolVersion !== PROTOCOL_VERSION) {
      return this.#refuse(`protocol version mismatch: this worker speaks ${PROTOCOL_VERSION}, the master ${setup.protocolVersion}`);
    }
    const token = this.#limits.token;
    if (token && (setup.nonce.length !== NONCE_BYTES || !macEqual(clientMac(token, this.#nonce, setup.nonce, setup.config), setup.mac))) {
      return this.#refuse('authentication failed');
    }
    const busy = this.#limits.claimSlot();
    if (busy !== undefined) return this.#refuse(busy);
    let config: WorkerConfig;
    try {
      config = { ...decodeConfig(setup.config), overrideInputs: [], workdir: process.cwd() };
    } catch (error) {
      return this.#refuse((error as Error).message);
    }
    const decision = applyPolicy({ ...config, maxMemoryMiB: Math.min(config.maxMemoryMiB, this.#limits.maxMemoryMiB) }, this.#limits.policy);
    if ('refusal' in decision) return this.#refuse(decision.refusal);
    const received = await this.#receiveSources(decision.config);
    if (received !== undefined) return this.#refuse(received);
    if (this.#connection.closed) return;
    const evaluator = new Evaluator(decision.config, this.#log, this.#limits.budget);
    this.#evaluator = evaluator;
    try {
      // A flake's source is fetched here, so a worker that cannot fetch it refuses now and its work goes to
      // others. A file or an expression has nothing to check that the master and the shipped sources have not
      // (as for a local worker): its first Work starts what it needs, a repl or only sweeps, which for a part
      // of the root is no repl at all. A repl started here was 150 ms of a small input's 500 ms on a remote.
      // Once an evaluator could not start (Nix broken or gone), setups start theirs again until one does, so
      // that a master reconnecting meets a refusal instead of the same failure at its next Work.
      const { health } = this.#limits;
      if (decision.config.input.kind === 'flake' || health.evaluatorFailed) {
        await evaluator.start();
        health.evaluatorFailed = false;
      }
    } catch (error) {
      await evaluator.close();
      return this.#refuse(error instanceof InputError ? error.message : `cannot start the evaluator: ${(error as Error).message}`);
    }
    if (this.#connection.closed) return;
    this.#state = 'ready';
    this.#connection.send({ kind: 'ready', proof: token ? serverProof(token, this.#nonce, setup.nonce) : Buffer.alloc(0) });
    this.#log.info({ input: decision.config.input.kind }, 'serving');
  }

  /**
   * Asks for the shipped sources this worker lacks and imports them, or
   * waits for another connection that is. Undefined once all are in the
   * store; otherwise why not.
   */
  async #receiveSources(config: WorkerConfig): Promise<string | undefined> {
    let plan: Awaited<ReturnType<SourceShelf['plan']>>;
    try {
      plan = await this.#limits.sources.plan(config.sources ?? []);
    } catch (error) {
      return `cannot check the shipped sources: ${(error as Error).message}`;
    }
    const receipt = plan.receipt;
    this.#receipt = receipt;
    this.#connection.send({ kind: 'want', storePaths: receipt.wanted.map((s) => s.storePath) });
    if (!receipt.complete) {
      this.#state = 'receiving';
      const started = Date.now();
      const failure = await new Promise<string | undefined>((resolve) => (this.#sourcesDone = resolve));
      if (failure !== undefined) {
        await receipt.abandon();
        return failure;
      }
      this.#log.info({ sources: receipt.wanted.length, bytes: receipt.bytes, ms: Date.now() - started }, 'shipped sources imported');
      this.#state = 'setting-up';
    }
    if ((await Promise.all(plan.othersBringing)).includes(false)) return 'a shipped source another connection was receiving did not arrive; try again';
    return undefined;
  }

  /** Queues a part for import, reading no more from the master while too much is queued. */
  #take(part: Extract<ClientMessage, { kind: 'source' }>): void {
    const receipt = this.#receipt!;
    this.#queuedBytes += part.data.length;
    if (this.#queuedBytes > QUEUED_SOURCE_BYTES) this.#connection.pause();
    this.#imported = this.#imported.then(async () => {
      await receipt.part(part.storePath, part.data, part.last);
      this.#queuedBytes -= part.data.length;
      if (this.#queuedBytes <= QUEUED_SOURCE_BYTES) this.#connection.resume();
      if (receipt.complete) this.#sourcesDone?.(undefined);
    });
    this.#imported.catch((error: Error) => this.#sourcesDone?.(`cannot take the shipped source: ${error.message}`));
  }

  /**
   * Answers at once: a chunk's results are one Event, sent with its Status
   * in one write (MessageConnection.send), so there is nothing left to batch.
   * A part's answer (the whole walk of its share) is streamed as its sweep
   * prints it, so that the master takes it while the sweep goes on, in
   * Events of at most MAX_CHUNK_ATTRIBUTES results, the bound of any other
   * chunk's answer.
   */
  async #work({ id, chunk, budget }: Extract<ClientMessage, { kind: 'work' }>): Promise<void> {
    this.#inFlight++;
    let answered = false;
    const send = (results: WorkResult[]): void => {
      for (let from = 0; from < results.length; from += MAX_CHUNK_ATTRIBUTES) {
        this.#connection.send({ kind: 'event', id, events: results.slice(from, from + MAX_CHUNK_ATTRIBUTES) });
      }
      answered ||= results.length > 0;
    };
    try {
      const { results, restarted } = await this.#evaluator!.evaluate(chunk, budget, send);
      send(results);
      // Every answer has an Event, empty when nothing was found (a part past the first of a root without children).
      if (!answered) this.#connection.send({ kind: 'event', id, events: [] });
      this.#connection.send({ kind: 'status', id, restart: restarted });
    } catch (error) {
      // Closed with the connection (nobody waits for the answer), or unable
      // to evaluate any more: then the master must hear it, or it would wait
      // for this chunk for ever while pings keep getting pongs.
      if (!this.#connection.closed) {
        this.#limits.health.evaluatorFailed = true;
        const reason = `the evaluator failed: ${(error as Error).message}`;
        this.#log.warn({ reason }, 'ending the connection');
        this.#connection.end({ kind: 'error', message: reason });
      }
    } finally {
      this.#inFlight--;
      if (this.#inFlight === 0) this.#drained?.();
    }
  }
}
