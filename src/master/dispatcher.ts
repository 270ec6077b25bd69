/**
 * The dispatcher: one place that hands out work. Whenever something changes
 * (an answer, a failure, a worker back from a lost connection, the consumer
 * ready for more) it tops every worker up to what that worker should hold
 * now, one item per worker per pass so that heavy items spread over idle
 * workers before any worker gets a second one. The scheduler decides what
 * an item is and owns every count; the dispatcher decides who evaluates it
 * and when.
 *
 * How much a worker should hold is its pipeline depth (PipelineDepth): it
 * grows with cheap items in a row up to the worker's maxCapacity, so cheap
 * items are pipelined and slow ones go one at a time.
 *
 * A slow consumer holds the walk back: while `consumerReady()` returns a
 * promise nothing new is handed out, so the events waiting for the consumer
 * are at most what the workers held when it filled up.
 */
import type { EvalEvent } from '../events.js';
import type { Logger } from '../log.js';
import { PipelineDepth } from './pipeline-depth.js';
import type { Scheduler, WorkItem } from './scheduler.js';
import { WorkerUnavailableError, closeWorker, type Worker } from './worker.js';

export interface DispatcherOptions {
  scheduler: Scheduler;
  workers: readonly Worker[];
  onEvent: (event: EvalEvent) => void;
  /** Undefined while the consumer takes events; otherwise a promise settled once it takes more. */
  consumerReady?: () => Promise<void> | undefined;
  log: Logger;
}

interface Lane {
  readonly worker: Worker;
  readonly depth: PipelineDepth;
  /** ready: takes work; recovering: waiting on worker.recover(); gone: removed from the run. */
  state: 'ready' | 'recovering' | 'gone';
}

export class Dispatcher {
  readonly #scheduler: Scheduler;
  readonly #lanes: Lane[];
  readonly #onEvent: (event: EvalEvent) => void;
  readonly #consumerReady: (() => Promise<void> | undefined) | undefined;
  readonly #log: Logger;
  #waitingForConsumer = false;
  #stopped = false;
  #end: (() => void) | undefined;

  constructor(options: DispatcherOptions) {
    this.#scheduler = options.scheduler;
    this.#lanes = options.workers.map((worker) => ({ worker, depth: new PipelineDepth(worker.maxCapacity), state: 'ready' }));
    this.#onEvent = options.onEvent;
    this.#consumerReady = options.consumerReady;
    this.#log = options.log;
  }

  /** Resolves when the walk is over (complete or fatal; see the scheduler) or stop() was called. */
  run(): Promise<void> {
    const ended = new Promise<void>((resolve) => (this.#end = resolve));
    this.#pump();
    return ended;
  }

  /** Hands out nothing more and ends run(); answers still arriving are ignored. */
  stop(): void {
    this.#stopped = true;
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
    for (let gave = true; gave; ) {
      gave = false;
      for (const lane of this.#lanes) {
        const id = lane.worker.id;
        if (lane.state !== 'ready' || this.#scheduler.holding(id) >= lane.depth.current) continue;
        const item = this.#scheduler.next(id);
        if (!item) continue;
        this.#start(lane, item);
        gave = true;
      }
    }
  }

  #start(lane: Lane, item: WorkItem): void {
    const sentAt = performance.now();
    lane.worker.evaluate(item.path).then(
      (result) => {
        if (this.#stopped || lane.state === 'gone') return;
        lane.depth.answered(sentAt, performance.now());
        const outcome = this.#scheduler.complete(lane.worker.id, item, result);
        const event = outcome.kind === 'event' || outcome.kind === 'fatal' ? outcome.event : undefined;
        if (event) this.#onEvent(event);
        this.#pump();
      },
      (error: unknown) => this.#failed(lane, item, error as Error),
    );
  }

  /** The worker could not answer `item`: the item goes back; the worker recovers or leaves the run. */
  #failed(lane: Lane, item: WorkItem, error: Error): void {
    if (this.#stopped) return;
    const { worker } = lane;
    this.#scheduler.fail(worker.id, item);
    // Its other items fail with it; the first failure decides.
    if (lane.state !== 'ready') return this.#pump();
    if (error instanceof WorkerUnavailableError && worker.recover) {
      lane.state = 'recovering';
      this.#log.warn({ worker: worker.id, err: error.message }, 'worker unavailable; its items go back on the queue');
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
    this.#log.warn({ worker: worker.id, err: error.message }, 'worker failed; its items go back on the queue');
    this.#scheduler.removeWorker(worker.id, error.message);
    void closeWorker(worker, this.#log);
    this.#pump();
  }
}
