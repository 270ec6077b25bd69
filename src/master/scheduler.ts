/**
 * The scheduler: a pure state machine over one queue of attribute paths.
 * No I/O and no clocks; the pool drives it and the tests drive it directly.
 *
 * - The root path is seeded; an attrset result enqueues its children.
 * - A worker takes the first queued item it has not rejected; it may hold
 *   several at once (its evaluator pipelines them).
 * - A derivation for a system the worker does not own is a rejection: the
 *   item records the worker and goes back on the queue; when every worker
 *   has rejected it the run fails with a fatal error.
 * - A worker that fails or leaves mid-item puts its item back on the queue.
 * - An error at the root is fatal: there is nothing else to walk.
 * - The run is over when the queue is empty and no worker is busy.
 *
 * It is the one owner of the run's counts (queued, held, completed, errors):
 * the dispatcher and the progress display read them here.
 */
import {
  isAttrsetEvent,
  isDerivationEvent,
  isErrorEvent,
  isSkip,
  type EvalEvent,
  type WorkResult,
} from '../events.js';
import type { RunFailure } from '../failures.js';
import { formatAttrPath, type AttrPath } from '../nix/syntax.js';

export interface WorkItem {
  path: AttrPath;
  /** Workers that returned a derivation for a system they do not own. */
  rejectedBy: Set<string>;
  /** The system of the derivation found here, once a worker has rejected it. */
  system?: string;
}

/** Systems a worker owns; undefined means any system. */
export type OwnedSystems = ReadonlySet<string> | undefined;

export type Outcome =
  | { kind: 'event'; event: EvalEvent }
  | { kind: 'skip' }
  | { kind: 'requeued' }
  | { kind: 'fatal'; failure: RunFailure; event?: EvalEvent };

export class Scheduler {
  readonly #queue: WorkItem[] = [];
  readonly #busy = new Map<string, Set<WorkItem>>();
  readonly #workers = new Map<string, OwnedSystems>();
  #fatal: RunFailure | undefined;
  #completed = 0;
  #errors = 0;

  /** Seeds the queue with the walk's roots: the tree's root by default. */
  constructor(roots: readonly AttrPath[] = [[]]) {
    for (const path of roots) this.#queue.push({ path, rejectedBy: new Set() });
  }

  addWorker(id: string, systems?: OwnedSystems): void {
    this.#workers.set(id, systems);
  }

  /**
   * A worker is gone (`why`: its last error). Its items go back on the
   * queue. Returns the run's failure when no worker is left while work
   * remains, or when a waiting item has now been rejected by every
   * remaining worker.
   */
  removeWorker(id: string, why?: string): RunFailure | undefined {
    this.#requeueBusy(id);
    this.#workers.delete(id);
    if (this.#workers.size === 0 && !this.done) {
      return this.#fail({ kind: 'workers', message: `no worker is left to evaluate the remaining attributes${why ? ` (${id}: ${why})` : ''}` });
    }
    for (const item of this.#queue) {
      const failure = this.#unacceptable(item);
      if (failure) return this.#fail(failure);
    }
    return undefined;
  }

  /** How many items `workerId` holds now. */
  holding(workerId: string): number {
    return this.#busy.get(workerId)?.size ?? 0;
  }

  /** The next item for `workerId`, now busy; undefined when none is eligible. */
  next(workerId: string): WorkItem | undefined {
    if (this.#fatal !== undefined || !this.#workers.has(workerId)) return undefined;
    const head = this.#queue[0];
    const at = head && !head.rejectedBy.has(workerId) ? 0 : this.#queue.findIndex((item) => !item.rejectedBy.has(workerId));
    if (at === -1) return undefined;
    const item = at === 0 ? this.#queue.shift()! : this.#queue.splice(at, 1)[0]!;
    let held = this.#busy.get(workerId);
    if (!held) this.#busy.set(workerId, (held = new Set()));
    held.add(item);
    return item;
  }

  /** A worker answered `item`. */
  complete(workerId: string, item: WorkItem, result: WorkResult): Outcome {
    if (!this.#busy.get(workerId)?.delete(item)) throw new Error(`worker ${workerId} completed an item it does not hold`);
    if (isDerivationEvent(result) && !owns(this.#workers.get(workerId), result.system)) {
      item.rejectedBy.add(workerId);
      item.system = result.system;
      this.#queue.push(item);
      const failure = this.#unacceptable(item);
      return failure ? { kind: 'fatal', failure: this.#fail(failure) } : { kind: 'requeued' };
    }
    this.#completed++;
    if (isSkip(result)) return { kind: 'skip' };
    if (isErrorEvent(result)) {
      this.#errors++;
      if (item.path.length === 0) return { kind: 'fatal', failure: this.#fail({ kind: 'input', message: result.error }), event: { ...result, fatal: true } };
    }
    if (isAttrsetEvent(result)) {
      for (const name of result.attrs) this.#queue.push({ path: [...item.path, name], rejectedBy: new Set() });
    }
    return { kind: 'event', event: result };
  }

  /** A worker could not answer `item` (it died, lost its connection): retry elsewhere. */
  fail(workerId: string, item: WorkItem): void {
    if (!this.#busy.get(workerId)?.delete(item)) return;
    this.#queue.unshift(item);
  }

  get done(): boolean {
    return this.#fatal !== undefined || (this.#queue.length === 0 && this.#held() === 0);
  }

  get fatal(): RunFailure | undefined {
    return this.#fatal;
  }

  get stats(): { queued: number; busy: number; busyWorkers: number; completed: number; errors: number; workers: number } {
    let busyWorkers = 0;
    for (const held of this.#busy.values()) if (held.size > 0) busyWorkers++;
    return { queued: this.#queue.length, busy: this.#held(), busyWorkers, completed: this.#completed, errors: this.#errors, workers: this.#workers.size };
  }

  /** Items held by all workers: a sum over the few workers, so no count is kept beside the sets. */
  #held(): number {
    let held = 0;
    for (const items of this.#busy.values()) held += items.size;
    return held;
  }

  #requeueBusy(workerId: string): void {
    const held = [...(this.#busy.get(workerId) ?? [])];
    this.#busy.delete(workerId);
    this.#queue.unshift(...held);
  }

  /** The failure when every current worker has rejected `item`. */
  #unacceptable(item: WorkItem): RunFailure | undefined {
    if (item.rejectedBy.size === 0) return undefined;
    for (const id of this.#workers.keys()) if (!item.rejectedBy.has(id)) return undefined;
    return { kind: 'unroutable', message: `no worker accepted derivation at ${formatAttrPath(item.path)} for system ${item.system ?? 'unknown'}` };
  }

  #fail(failure: RunFailure): RunFailure {
    this.#fatal ??= failure;
    return this.#fatal;
  }
}

function owns(systems: OwnedSystems, system: string): boolean {
  return systems === undefined || systems.size === 0 || systems.has(system);
}
