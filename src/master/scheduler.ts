/**
 * The scheduler: a pure state machine over the attributes still to walk.
 * No I/O and no clocks; the dispatcher drives it and the tests drive it
 * directly.
 *
 * - The roots are seeded; an attrset result queues its children as one
 *   range of its attrs list, cut into chunks as workers ask for them, so a
 *   set of 100k children costs one queue entry, not 100k.
 * - A worker takes a chunk of up to the number of attributes it asks for;
 *   it may hold several chunks at once (its evaluator pipelines them).
 * - A derivation for a system the worker does not own is a rejection: the
 *   attribute waits for a worker that owns the system; when no worker left
 *   owns it the run fails with a fatal error.
 * - A worker that fails or leaves mid-chunk puts its chunks back, first in
 *   line. A chunk answered as it went (see stream()) comes back with a
 *   record of what it delivered, which its next answer is filtered through.
 * - An error at the root is fatal: there is nothing else to walk.
 * - The run is over when nothing is queued and no worker holds a chunk.
 *
 * Every operation costs in proportion to the chunk it handles, never to
 * the size of the queue: a run of 100k attributes takes and answers a few
 * hundred chunks.
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
} from '../events.js';
import type { RunFailure } from '../failures.js';
import { formatAttrPath, type AttrPath } from '../nix/syntax.js';
import { chunkSize, type ChunkAnswer, type WorkUnit } from '../work.js';
import { EarlierAnswers } from './earlier-answers.js';

type PartUnit = Extract<WorkUnit, { kind: 'part' }>;

/** Systems a worker owns; undefined means any system. */
export type OwnedSystems = ReadonlySet<string> | undefined;

/** A chunk a worker holds. */
export interface HeldChunk {
  readonly units: WorkUnit[];
  /** Attributes it names. */
  readonly size: number;
  /** What earlier attempts at it delivered (see Scheduler.stream); its answers are filtered through it. */
  earlier?: EarlierAnswers;
}

/** Children of one set not yet handed out: `attrs[start..end)`. */
interface SiblingRange {
  readonly parent: AttrPath;
  readonly attrs: readonly string[];
  start: number;
  readonly end: number;
  /** Position of attrs[0] among the parent's attrs: 0 but for some of them left by a sweep (see requeue). */
  readonly offset: number;
  /**
   * Children of a set an earlier attempt walked and a later one did not
   * (see #answer): some under it were delivered, so its chunks are filtered
   * through that record, and taken alone.
   */
  readonly earlier?: EarlierAnswers;
}

export class Scheduler {
  /** Chunks given back by workers that failed: first in line, whole. */
  readonly #returned: HeldChunk[] = [];
  /** Derivations rejected for their system, by system, for a worker that owns it. */
  readonly #routed = new Map<string, AttrPath[]>();
  /** Roots, parts of roots and sibling ranges in the order found; `#head` is the first not yet taken. */
  #fresh: Array<SiblingRange | AttrPath | PartUnit> = [];
  #head = 0;
  #queued = 0;
  readonly #busy = new Map<string, Set<HeldChunk>>();
  readonly #workers = new Map<string, OwnedSystems>();
  #held = 0;
  #fatal: RunFailure | undefined;
  #completed = 0;
  #errors = 0;

  /** Seeds the queue with the walk's roots: the tree's root by default. */
  constructor(roots: readonly AttrPath[] = [[]]) {
    for (const path of roots) this.#fresh.push(path);
    this.#queued = roots.length;
  }

  /**
   * Whether the walk is still where it began, at one root with nothing
   * handed out: then it may be split in parts (see partitionRoot).
   */
  get unstarted(): boolean {
    return this.#head === 0 && this.#fresh.length === 1 && Array.isArray(this.#fresh[0]) && this.#held === 0 && this.#completed === 0;
  }

  /**
   * Replaces the one root with `parts` parts of it (see the `part`
   * WorkUnit), for workers that sweep: each takes one, and together they
   * answer the root and everything under it, so nothing else is queued.
   */
  partitionRoot(parts: number): void {
    if (!this.unstarted) throw new Error('only a walk that has not started can be split in parts');
    const path = this.#fresh[0] as AttrPath;
    this.#fresh = Array.from({ length: parts }, (_, part) => ({ kind: 'part', path, part, parts }) as const);
    this.#queued = parts;
  }

  addWorker(id: string, systems?: OwnedSystems): void {
    this.#workers.set(id, systems);
  }

  /**
   * A worker is gone (`why`: its last error). Its chunks go back in line.
   * Returns the run's failure when no worker is left while work remains,
   * or when a waiting derivation's system is owned by no remaining worker.
   */
  removeWorker(id: string, why?: string): RunFailure | undefined {
    for (const chunk of this.#busy.get(id) ?? []) {
      this.#held -= chunk.size;
      this.#giveBack(chunk);
    }
    this.#busy.delete(id);
    this.#workers.delete(id);
    if (this.#workers.size === 0 && !this.done) {
      return this.#fail({ kind: 'workers', message: `no worker is left to evaluate the remaining attributes${why ? ` (${id}: ${why})` : ''}` });
    }
    for (const [system, paths] of this.#routed) {
      const failure = this.#unroutable(system, paths[0]);
      if (failure) return this.#fail(failure);
    }
    return undefined;
  }

  /** How many chunks `workerId` holds now. */
  holding(workerId: string): number {
    return this.#busy.get(workerId)?.size ?? 0;
  }

  /**
   * The next chunk for `workerId`, of at most `maxSize` attributes (a chunk
   * given back is handed out whole); undefined when nothing is eligible.
   */
  next(workerId: string, maxSize: number): HeldChunk | undefined {
    if (this.#fatal !== undefined || !this.#workers.has(workerId)) return undefined;
    const chunk = this.#returned.pop() ?? this.#take(this.#workers.get(workerId), Math.max(1, maxSize));
    if (!chunk) return undefined;
    this.#queued -= chunk.size;
    this.#held += chunk.size;
    let held = this.#busy.get(workerId);
    if (!held) this.#busy.set(workerId, (held = new Set()));
    held.add(chunk);
    return chunk;
  }

  /**
   * A worker answered `chunk`. Each event goes to `onEvent` (order within a
   * chunk is the answer's). Returns the run's failure if the answer ends it.
   */
  complete(workerId: string, chunk: HeldChunk, answer: ChunkAnswer, onEvent: (event: EvalEvent) => void): RunFailure | undefined {
    if (!this.#release(workerId, chunk)) throw new Error(`worker ${workerId} completed a chunk it does not hold`);
    return this.#answer(workerId, chunk, answer, onEvent);
  }

  /**
   * Part of the answer to a chunk `workerId` still holds (a sweep answers
   * as it goes), taken as complete() takes an answer; complete() brings the
   * rest. Returns the run's failure if these results end it.
   */
  deliver(workerId: string, chunk: HeldChunk, results: ChunkAnswer, onEvent: (event: EvalEvent) => void): RunFailure | undefined {
    if (!this.#busy.get(workerId)?.has(chunk)) throw new Error(`worker ${workerId} answered a chunk it does not hold`);
    return this.#answer(workerId, chunk, results, onEvent);
  }

  /**
   * Part of the answer to a chunk `workerId` still holds, from a worker
   * that, should it fail, cannot say what it left unanswered (a remote
   * whose connection is lost): taken as deliver() takes it, and recorded
   * on the chunk (EarlierAnswers), so that when fail() puts the chunk back
   * whole its next answer delivers only what this one did not.
   */
  stream(workerId: string, chunk: HeldChunk, results: ChunkAnswer, onEvent: (event: EvalEvent) => void): RunFailure | undefined {
    if (!this.#busy.get(workerId)?.has(chunk)) throw new Error(`worker ${workerId} answered a chunk it does not hold`);
    chunk.earlier ??= new EarlierAnswers();
    return this.#answer(workerId, chunk, results, onEvent, chunk.earlier);
  }

  /**
   * Takes results of `chunk`: filtered through what earlier attempts at it
   * delivered, if any; recorded in `record` (see stream()).
   */
  #answer(workerId: string, chunk: HeldChunk, answer: ChunkAnswer, onEvent: (event: EvalEvent) => void, record?: EarlierAnswers): RunFailure | undefined {
    const systems = this.#workers.get(workerId);
    const { earlier } = chunk;
    for (const result of answer) {
      if (this.#fatal !== undefined) return this.#fatal;
      const fate = earlier?.before(result.attrPath);
      if (earlier && fate !== undefined) {
        // Delivered before. A set walked then and not now: its children come from the queue, filtered by what was delivered under it.
        if (fate === 'walked' && isAttrsetEvent(result) && !result.childrenAnswered) this.#queueChildren(result, earlier.requeue(result.attrPath));
        continue;
      }
      if (isDerivationEvent(result) && !owns(systems, result.system)) {
        record?.add(result.attrPath, 'leaf');
        this.#route(result.system, result.attrPath);
        const failure = this.#unroutable(result.system, result.attrPath);
        if (failure) return this.#fail(failure);
        continue;
      }
      this.#completed++;
      if (isAttrsetEvent(result)) {
        const { childrenAnswered, ...event } = result;
        record?.add(result.attrPath, childrenAnswered ? 'walked' : 'children-queued');
        if (!childrenAnswered) this.#queueChildren(event);
        onEvent(event);
        continue;
      }
      record?.add(result.attrPath, 'leaf');
      if (isSkip(result)) continue;
      if (isErrorEvent(result)) {
        this.#errors++;
        if (result.attrPath.length === 0) {
          onEvent({ ...result, fatal: true });
          return this.#fail({ kind: 'input', message: result.error });
        }
      }
      onEvent(result);
    }
    return this.#fatal;
  }

  /** Queues the children of a set the worker did not walk, filtered through `earlier` if some of them were delivered. */
  #queueChildren(set: { attrPath: AttrPath; attrs: readonly string[] }, earlier?: EarlierAnswers): void {
    if (set.attrs.length === 0) return;
    this.#fresh.push({ parent: set.attrPath, attrs: set.attrs, start: 0, end: set.attrs.length, offset: 0, ...(earlier ? { earlier } : {}) });
    this.#queued += set.attrs.length;
  }

  /**
   * A worker answered part of `chunk` (see deliver()) and could not answer
   * the rest: `unanswered`, each with everything under it, go back first
   * in line, and the chunk's delivered part stands.
   */
  failRest(workerId: string, chunk: HeldChunk, unanswered: readonly AttrPath[]): void {
    if (!this.#release(workerId, chunk) || unanswered.length === 0) return;
    this.#giveBack({ units: unanswered.map((path) => ({ kind: 'path', path })), size: unanswered.length });
  }

  /**
   * Attributes a sweep left to chunks (see Worker.sweep): queued as any
   * found, each with everything under it, so the pace sizes them.
   */
  requeue(left: readonly WorkUnit[]): void {
    for (const unit of left) {
      if (unit.kind === 'siblings') this.#fresh.push({ parent: unit.parent, attrs: unit.names, start: 0, end: unit.names.length, offset: unit.from });
      else this.#fresh.push(unit.kind === 'path' ? unit.path : unit);
      this.#queued += chunkSize([unit]);
    }
  }

  /** A worker could not answer `chunk` (it died, lost its connection): retry elsewhere. */
  fail(workerId: string, chunk: HeldChunk): void {
    if (this.#release(workerId, chunk)) this.#giveBack(chunk);
  }

  get done(): boolean {
    return this.#fatal !== undefined || (this.#queued === 0 && this.#held === 0);
  }

  /** Attributes waiting to be handed out. */
  get queued(): number {
    return this.#queued;
  }

  get fatal(): RunFailure | undefined {
    return this.#fatal;
  }

  get stats(): { queued: number; busy: number; busyWorkers: number; completed: number; errors: number; workers: number } {
    let busyWorkers = 0;
    for (const held of this.#busy.values()) if (held.size > 0) busyWorkers++;
    return { queued: this.#queued, busy: this.#held, busyWorkers, completed: this.#completed, errors: this.#errors, workers: this.#workers.size };
  }

  /** A chunk of waiting derivations the worker owns the system of, else of fresh attributes. */
  #take(systems: OwnedSystems, maxSize: number): HeldChunk | undefined {
    const units: WorkUnit[] = [];
    let size = 0;
    for (const [system, paths] of this.#routed) {
      if (!owns(systems, system)) continue;
      while (size < maxSize && paths.length > 0) {
        units.push({ kind: 'path', path: paths.pop()! });
        size++;
      }
      if (paths.length === 0) this.#routed.delete(system);
      if (size === maxSize) return { units, size };
    }
    let earlier: EarlierAnswers | undefined;
    while (size < maxSize && this.#head < this.#fresh.length) {
      const entry = this.#fresh[this.#head]!;
      if (isPart(entry)) {
        // A part is one sweep's work: alone in its chunk.
        if (size > 0) break;
        units.push(entry);
        size++;
        this.#head++;
        break;
      }
      if (!('attrs' in entry)) {
        units.push({ kind: 'path', path: entry });
        size++;
        this.#head++;
        continue;
      }
      // A range filtered through a record is alone in its chunks, which carry the record.
      if (entry.earlier && size > 0) break;
      const count = Math.min(maxSize - size, entry.end - entry.start);
      units.push({ kind: 'siblings', parent: entry.parent, from: entry.offset + entry.start, names: entry.attrs.slice(entry.start, entry.start + count) });
      size += count;
      entry.start += count;
      if (entry.start === entry.end) this.#head++;
      if (entry.earlier) {
        earlier = entry.earlier;
        break;
      }
    }
    this.#compact();
    if (size === 0) return undefined;
    return earlier ? { units, size, earlier } : { units, size };
  }

  /** Drops the entries already taken once they are most of the array, so taking stays O(1) amortised. */
  #compact(): void {
    if (this.#head > 1024 && this.#head * 2 > this.#fresh.length) {
      this.#fresh = this.#fresh.slice(this.#head);
      this.#head = 0;
    }
  }

  #release(workerId: string, chunk: HeldChunk): boolean {
    if (!this.#busy.get(workerId)?.delete(chunk)) return false;
    this.#held -= chunk.size;
    return true;
  }

  #giveBack(chunk: HeldChunk): void {
    this.#returned.push(chunk);
    this.#queued += chunk.size;
  }

  #route(system: string, path: AttrPath): void {
    let paths = this.#routed.get(system);
    if (!paths) this.#routed.set(system, (paths = []));
    paths.push(path);
    this.#queued++;
  }

  /** The failure when no current worker owns `system`, for which `path` waits. */
  #unroutable(system: string, path: AttrPath | undefined): RunFailure | undefined {
    if (path === undefined) return undefined;
    for (const systems of this.#workers.values()) if (owns(systems, system)) return undefined;
    return { kind: 'unroutable', message: `no worker accepted derivation at ${formatAttrPath(path)} for system ${system}` };
  }

  #fail(failure: RunFailure): RunFailure {
    this.#fatal ??= failure;
    return this.#fatal;
  }
}

function isPart(entry: SiblingRange | AttrPath | PartUnit): entry is PartUnit {
  return 'kind' in entry;
}

function owns(systems: OwnedSystems, system: string): boolean {
  return systems === undefined || systems.size === 0 || systems.has(system);
}
