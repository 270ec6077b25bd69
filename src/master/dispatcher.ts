/**
 * The dispatcher: one place that hands out work. Whenever something changes
 * (an answer, a failure, a worker back from a lost connection, the consumer
 * ready for more) it tops every worker up to what that worker should hold
 * now, one chunk per worker per pass so that heavy items spread over idle
 * workers before any worker gets a second one. The scheduler decides what
 * a chunk is and owns every count; the dispatcher decides who evaluates it
 * and when.
 *
 * Work goes out in chunks (see src/work.ts). How big a chunk and how many
 * a worker holds is learned per worker (ChunkPace): cheap attributes go in
 * big chunks, two in flight; slow ones one at a time. No chunk takes more
 * than its share of what is queued, so the end of a run spreads over every
 * worker too.
 *
 * A worker that starts on demand (a local evaluator past the first) gets
 * work only once work has waited START_EVALUATOR_AFTER_MS for the started
 * ones, one more per wait, and while the run admits another evaluator.
 *
 * A slow consumer holds the walk back: while `consumerReady()` returns a
 * promise nothing new is handed out, so the events waiting for the consumer
 * are at most what the workers held when it filled up.
 */
import { isAttrsetEvent, type EvalEvent } from '../events.js';
import { chunkSize, leastAnswer, type ChunkAnswer, type SweepAnswer } from '../work.js';
import type { Logger } from '../log.js';
import { ChunkPace } from './chunk-pace.js';
import { sweepShare } from './sweep-plan.js';
import type { HeldChunk, Scheduler } from './scheduler.js';
import { SweepIncompleteError, WorkerUnavailableError, closeWorker, type Worker } from './worker.js';

/**
 * How long queued work must have waited, with every started worker full,
 * before another evaluator starts. Starting one costs a process and an
 * evaluation of the root (about 100 ms for a small input), which a run
 * that is nearly over cannot win back: on a 1296-attribute tree a second
 * evaluator started at once made the run slower than one evaluator alone.
 * A longer run loses at most this much to the wait.
 */
export const START_EVALUATOR_AFTER_MS = 150;

export interface DispatcherOptions {
  scheduler: Scheduler;
  workers: readonly Worker[];
  onEvent: (event: EvalEvent) => void;
  /** Undefined while the consumer takes events; otherwise a promise settled once it takes more. */
  consumerReady?: () => Promise<void> | undefined;
  /** Whether another evaluator may start now (a worker that starts on demand); yes when absent. */
  admitEvaluator?: () => boolean;
  log: Logger;
}

interface Lane {
  readonly worker: Worker;
  readonly pace: ChunkPace;
  /** ready: takes work; recovering: waiting on worker.recover(); gone: removed from the run. */
  state: 'ready' | 'recovering' | 'gone';
  /** It has had work (a worker that starts on demand has started). */
  used: boolean;
  /** It holds a sweep (Worker.sweep), and takes nothing else meanwhile. */
  sweeping: boolean;
}

export class Dispatcher {
  readonly #scheduler: Scheduler;
  readonly #lanes: Lane[];
  readonly #onEvent: (event: EvalEvent) => void;
  readonly #consumerReady: (() => Promise<void> | undefined) | undefined;
  readonly #admitEvaluator: () => boolean;
  readonly #log: Logger;
  #waitingForConsumer = false;
  /** Since when queued work has waited for a started worker (see START_EVALUATOR_AFTER_MS). */
  #workWaitingSince: number | undefined;
  #startTimer: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  #end: (() => void) | undefined;
  /** The pace of the worker that answered last: the freshest reading of how cheap attributes are. */
  #lastPace: ChunkPace | undefined;

  constructor(options: DispatcherOptions) {
    this.#scheduler = options.scheduler;
    this.#lanes = options.workers.map((worker) => ({ worker, pace: new ChunkPace(worker.maxCapacity), state: 'ready', used: false, sweeping: false }));
    this.#onEvent = options.onEvent;
    this.#consumerReady = options.consumerReady;
    this.#admitEvaluator = options.admitEvaluator ?? (() => true);
    this.#log = options.log;
  }

  /** Resolves when the walk is over (complete or fatal; see the scheduler) or stop() was called. */
  run(): Promise<void> {
    const ended = new Promise<void>((resolve) => (this.#end = resolve));
    this.#openInParts();
    this.#pump();
    return ended;
  }

  /**
   * When every worker sweeps or answers parts (see Worker.answersParts),
   * the walk starts as one part of the root per worker (see the `part`
   * WorkUnit): no evaluator must first evaluate the root and list it
   * before the others can start (half a second of one core for a root of
   * 100k names, with the other cores idle), and a small input costs a
   * process start instead of a repl's. A worker that may not start now
   * (memory) takes its part later, as a chunk.
   */
  #openInParts(): void {
    const lanes = this.#lanes;
    if (lanes.length === 0 || !lanes.every((lane) => lane.worker.sweep || lane.worker.answersParts) || !this.#scheduler.unstarted) return;
    this.#scheduler.partitionRoot(lanes.length);
    for (const lane of lanes) if (!this.#startSweep(lane, 1)) return;
  }

  /** Hands out nothing more and ends run(); answers still arriving are ignored. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#startTimer);
    this.#end?.();
  }

  #pump(): void {
    if (this.#stopped) return;
    if (this.#scheduler.done) return this.stop();
    if (this.#waitingForConsumer) return;
    const full = this.#consumerReady?.();
    if (full) {
      this.#waitingForConsumer = true;
      void full.then(() => {
        this.#waitingForConsumer = false;
        this.#pump();
      });
      return;
    }
    this.#giveSweeps();
    let ready = 0;
    for (const lane of this.#lanes) if (lane.state === 'ready' && isStarted(lane) && !lane.sweeping) ready++;
    for (let gave = true; gave; ) {
      gave = false;
      for (const lane of this.#lanes) {
        if (lane.state === 'ready' && isStarted(lane) && !lane.sweeping) gave = this.#give(lane, ready) || gave;
      }
    }
    this.#startEvaluatorIfWorkWaits(ready);
  }

  /**
   * Gives each worker that sweeps its share of the queue as one sweep,
   * once the pace says a share holds enough cheap results (see SweepPlan).
   * The share is of every worker not sweeping, started or not: a sweep is a
   * process of its own and needs no evaluator started first, and a worker
   * that does not sweep (a remote) still takes chunks of what is left.
   */
  #giveSweeps(): void {
    const pace = this.#lastPace;
    if (!pace) return;
    const sharers = this.#lanes.filter((lane) => lane.state === 'ready' && !lane.sweeping);
    // One share for all: a sharer that does not sweep takes chunks of its own share.
    const share = sweepShare(this.#scheduler.queued, sharers.length, pace);
    if (share === 0) return;
    for (const lane of sharers) {
      // A worker still answering chunks sweeps beside them: they are short (TARGET_CHUNK_MS).
      if (lane.worker.sweep && !this.#startSweep(lane, share)) return;
    }
  }

  /**
   * Starts a sweep of at most `size` attributes on `lane`, unless its
   * evaluator has not started and the run admits no other now; false when
   * nothing is left to sweep.
   */
  #startSweep(lane: Lane, size: number): boolean {
    if (!isStarted(lane) && !this.#admitEvaluator()) return true;
    const chunk = this.#scheduler.next(lane.worker.id, size);
    if (!chunk) return false;
    lane.used = true;
    this.#start(lane, chunk, true);
    return true;
  }

  /** Work the started workers could not take, waiting long enough: start one more evaluator for it. */
  #startEvaluatorIfWorkWaits(ready: number): void {
    const unstarted = this.#scheduler.queued > 0 ? this.#lanes.find((lane) => lane.state === 'ready' && !isStarted(lane)) : undefined;
    if (!unstarted) {
      this.#workWaitingSince = undefined;
      return;
    }
    const now = performance.now();
    this.#workWaitingSince ??= now;
    const waited = now - this.#workWaitingSince;
    if (waited >= START_EVALUATOR_AFTER_MS) {
      // Memory permitting; if not, look again after another wait.
      if (this.#admitEvaluator()) this.#give(unstarted, ready + 1);
      this.#workWaitingSince = now;
    }
    // Look again when the wait is over, even if no answer comes meanwhile.
    if (this.#startTimer === undefined) {
      const due = START_EVALUATOR_AFTER_MS - (now - this.#workWaitingSince);
      this.#startTimer = setTimeout(() => {
        this.#startTimer = undefined;
        this.#pump();
      }, Math.max(1, due));
    }
  }

  /** Tops `lane` up by one chunk of at most its share of the queue (`ready` lanes share it); whether it got one. */
  #give(lane: Lane, ready: number): boolean {
    const id = lane.worker.id;
    if (this.#scheduler.holding(id) >= lane.pace.inFlight) return false;
    const share = Math.ceil(this.#scheduler.queued / ready);
    const chunk = this.#scheduler.next(id, Math.min(lane.pace.attributes, share));
    if (!chunk) return false;
    lane.used = true;
    this.#start(lane, chunk);
    return true;
  }

  /**
   * Starts `chunk` on `lane`: as a sweep when asked and the worker sweeps,
   * but for a chunk tried before that delivered as it went (a sweep that
   * fails names what it left, which would not be filtered through the
   * chunk's record: see Scheduler.stream).
   */
  #start(lane: Lane, chunk: HeldChunk, sweep = false): void {
    const sentAt = performance.now();
    let delivered = 0;
    const sweeps = sweep && lane.worker.sweep !== undefined && chunk.earlier === undefined;
    // A sweep holds a large share: while the consumer is full, it is held back (see Worker.sweep).
    const deliver = (results: ChunkAnswer) => {
      if (this.#stopped || lane.state === 'gone') return undefined;
      delivered += results.length;
      if (sweeps) this.#scheduler.deliver(lane.worker.id, chunk, results, this.#onEvent);
      else this.#scheduler.stream(lane.worker.id, chunk, results, this.#onEvent);
      return this.#consumerReady?.();
    };
    lane.sweeping = sweeps;
    const answered: Promise<SweepAnswer> =
      sweeps && lane.worker.sweep
        ? lane.worker.sweep(chunk.units, deliver)
        : lane.worker.evaluate(chunk.units, lane.pace.budget, (results) => void deliver(results)).then((results) => ({ results, left: [] }));
    answered
      .finally(() => {
        if (sweeps) lane.sweeping = false;
      })
      .then(
        ({ results: answer, left }) => {
          if (this.#stopped || lane.state === 'gone') return;
          // A worker answers every attribute of a chunk; one that does not (a broken or hostile remote) would lose them.
          const answers = delivered + answer.length + chunkSize(left);
          if (answers < leastAnswer(chunk.units)) return this.#failed(lane, chunk, new Error(`answered ${answers} of the ${chunk.size} attributes of a chunk`));
          lane.pace.answered(sentAt, performance.now(), chunk.size, delivered + answer.length, unwalkedChildren(answer));
          this.#lastPace = lane.pace;
          this.#scheduler.complete(lane.worker.id, chunk, answer, this.#onEvent);
          this.#scheduler.requeue(left);
          this.#pump();
        },
        (error: unknown) => this.#failed(lane, chunk, error as Error),
      );
  }

  /** The worker could not answer `chunk`: the chunk (or what a sweep left of it) goes back; the worker recovers or leaves the run. */
  #failed(lane: Lane, chunk: HeldChunk, error: Error): void {
    if (this.#stopped) return;
    const { worker } = lane;
    if (error instanceof SweepIncompleteError) this.#scheduler.failRest(worker.id, chunk, error.unanswered);
    else this.#scheduler.fail(worker.id, chunk);
    // Its other chunks fail with it; the first failure decides.
    if (lane.state !== 'ready') return this.#pump();
    if (error instanceof WorkerUnavailableError && worker.recover) {
      lane.state = 'recovering';
      this.#log.warn({ worker: worker.id, err: error.message }, 'worker unavailable; its chunks go back on the queue');
      worker.recover().then(
        (recovered) => {
          if (this.#stopped) return;
          if (!recovered) return this.#remove(lane, error);
          lane.state = 'ready';
          this.#pump();
        },
        (recoverError: unknown) => this.#remove(lane, recoverError as Error),
      );
      return this.#pump();
    }
    this.#remove(lane, error);
  }

  #remove(lane: Lane, error: Error): void {
    if (this.#stopped) return;
    const { worker } = lane;
    lane.state = 'gone';
    this.#log.warn({ worker: worker.id, err: error.message }, 'worker failed; its chunks go back on the queue');
    this.#scheduler.removeWorker(worker.id, error.message);
    void closeWorker(worker, this.#log);
    this.#pump();
  }
}

/** Children of the answer's sets that the worker did not walk into: they come back as work. */
function unwalkedChildren(answer: ChunkAnswer): number {
  let children = 0;
  for (const result of answer) if (isAttrsetEvent(result) && !result.childrenAnswered) children += result.attrs.length;
  return children;
}

/** A lane whose worker runs an evaluator now: any but one that starts on demand and has had no work yet. */
function isStarted(lane: Lane): boolean {
  return lane.used || !lane.worker.startsOnDemand;
}
