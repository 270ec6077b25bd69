/**
 * --check-cache-status: derivation events wait a moment in a batch, are
 * given cacheStatus, isCached, neededBuilds and neededSubstitutes from one
 * batched look-up, and go on in the order they came. Other events pass
 * straight through.
 */
import { MissingPaths, type StoreQueries } from '../cache-status/missing.js';
import { isDerivationEvent, type DerivationEvent, type EvalEvent } from '../events.js';
import type { Logger } from '../log.js';

const BATCH = 500;
const WAIT_MS = 50;

export class CacheStatusSink {
  readonly #missing: MissingPaths;
  readonly #next: (event: EvalEvent) => void;
  readonly #log: Logger;
  #batch: DerivationEvent[] = [];
  #timer: NodeJS.Timeout | undefined;
  /** Batches are looked up one after another, so output keeps its order. */
  #chain: Promise<void> = Promise.resolve();

  constructor(queries: StoreQueries, next: (event: EvalEvent) => void, log: Logger) {
    this.#missing = new MissingPaths(queries);
    this.#next = next;
    this.#log = log;
  }

  readonly add = (event: EvalEvent): void => {
    if (!isDerivationEvent(event)) return this.#next(event);
    this.#batch.push(event);
    if (this.#batch.length >= BATCH) this.#flush();
    else this.#timer ??= setTimeout(() => this.#flush(), WAIT_MS);
  };

  /** Waits for every batch to be looked up and passed on. */
  async drain(): Promise<void> {
    this.#flush();
    await this.#chain;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    const batch = this.#batch;
    this.#batch = [];
    if (batch.length === 0) return;
    this.#chain = this.#chain.then(async () => {
      try {
        const statuses = await this.#missing.statusOf(batch);
        batch.forEach((event, i) => this.#next({ ...event, ...statuses[i]! }));
      } catch (error) {
        this.#log.error({ err: (error as Error).message }, 'cannot look up cache status; derivations printed without it');
        batch.forEach((event) => this.#next(event));
      }
    });
  }
}
