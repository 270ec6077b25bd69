/**
 * The library's front door: a Session is one evaluation configuration whose
 * last complete walk is kept (the warm graph), so that queries are lookups
 * and a re-evaluation can be compared with it.
 *
 *   const session = await Session.open({ input: { kind: 'file', path: 'jobs.nix' } });
 *   for await (const event of session.stream()) console.log(event);
 *   session.querySnapshot({ systems: ['x86_64-linux'] });
 *   const diff = await session.diffOnce();
 *   for await (const update of session.watch()) console.log(update);
 */
import { completeConfig, type EvalConfig, type SessionConfig } from '../config.js';
import { evaluate, type EvaluateOptions } from '../evaluate.js';
import type { EvalEvent } from '../events.js';
import type { RunFailure } from '../failures.js';
import type { RunResult } from '../master/run.js';
import { addToGraph, diffGraphs, emptyGraph, queryGraph, type Graph, type GraphDiff, type QueryFilter } from './graph.js';
import { watchInput, type WatchOptions, type WatchUpdate } from './watch-loop.js';

/** Events stream() keeps for a caller that has not taken them yet, before the walk waits for it. */
const STREAM_HIGH_WATER = 256;

// What Session.open takes and watch() yields, which the library exports beside Session.
export type { SessionConfig, WatchUpdate };

export type SessionOptions = Omit<EvaluateOptions, 'onEvent'>;

/** A walk that ended early: its message is the failure's. */
export class EvaluationFailed extends Error {
  readonly failure: RunFailure;

  constructor(failure: RunFailure) {
    super(failure.message);
    this.name = 'EvaluationFailed';
    this.failure = failure;
  }
}

export class Session {
  readonly config: EvalConfig;
  readonly #options: SessionOptions;
  #graph: Graph | undefined;
  #streamed = false;

  private constructor(config: EvalConfig, options: SessionOptions) {
    this.config = config;
    this.#options = options;
  }

  static async open(config: SessionConfig, options: Partial<SessionOptions> = {}): Promise<Session> {
    return new Session(completeConfig(config), { workers: 1, ...options });
  }

  /** Whether a complete walk is kept. */
  get warm(): boolean {
    return this.#graph !== undefined;
  }

  /**
   * Walks the tree, yielding each event as it comes; the walk becomes the
   * warm graph when complete. Single use: a second call throws.
   */
  async *stream(): AsyncGenerator<EvalEvent, void, undefined> {
    if (this.#streamed) throw new Error('Session.stream() can be iterated once; use diffOnce() to evaluate again');
    this.#streamed = true;
    const queue: EvalEvent[] = [];
    let wake: (() => void) | undefined;
    // Back-pressure: past the high-water mark the walk hands out no new work
    // until the caller has taken the queue below it, so a caller that awaits
    // between events does not make the queue grow with the walk.
    let drained: { promise: Promise<void>; resolve: () => void } | undefined;
    const consumerReady = () => {
      if (queue.length < STREAM_HIGH_WATER) return undefined;
      return (drained ??= Promise.withResolvers<void>()).promise;
    };
    let outcome: { error?: unknown } | undefined;
    void this.#refresh((event) => {
      queue.push(event);
      wake?.();
    }, consumerReady)
      .then(
        () => (outcome = {}),
        (error: unknown) => (outcome = { error }),
      )
      .finally(() => wake?.());
    for (;;) {
      const event = queue.shift();
      if (queue.length < STREAM_HIGH_WATER / 2 && drained) {
        drained.resolve();
        drained = undefined;
      }
      if (event) yield event;
      else if (outcome) break;
      else await new Promise<void>((resolve) => (wake = resolve));
    }
    if (outcome.error) throw outcome.error;
  }

  /** Derivations and errors of the warm graph that pass the filter. */
  querySnapshot(filter: QueryFilter = {}): EvalEvent[] {
    if (!this.#graph) throw new Error('no warm graph: evaluate first (stream() or diffOnce())');
    return queryGraph(this.#graph, filter);
  }

  /** What changed from `base`'s warm graph to this one's (both must be warm). */
  compareWith(base: Session): GraphDiff {
    if (!this.#graph || !base.#graph) throw new Error('no warm graph: evaluate both sessions first');
    return diffGraphs(base.#graph, this.#graph);
  }

  /** Evaluates again; returns what changed against the warm graph, which the new walk replaces. */
  diffOnce(): Promise<GraphDiff> {
    return this.refresh();
  }

  /**
   * One walk, each event also handed to `onEvent`. When complete it becomes
   * the warm graph and the difference with the previous one is returned; a
   * fatal error leaves the previous graph warm and throws EvaluationFailed.
   */
  refresh(onEvent?: (event: EvalEvent) => void): Promise<GraphDiff> {
    return this.#refresh(onEvent);
  }

  async #refresh(onEvent?: (event: EvalEvent) => void, consumerReady?: () => Promise<void> | undefined): Promise<GraphDiff> {
    const graph = emptyGraph();
    const result = await this.#walk((event) => {
      addToGraph(graph, event);
      onEvent?.(event);
    }, consumerReady);
    if (result.fatal !== undefined) throw new EvaluationFailed(result.fatal);
    const diff = diffGraphs(this.#graph ?? emptyGraph(), graph);
    this.#graph = graph;
    return diff;
  }

  /**
   * Evaluates now, then again after each change to the input's files
   * (debounced), yielding what changed each time; a failed evaluation (a
   * syntax error mid-edit) yields its error and watching goes on. Ends when
   * `signal` aborts. Throws NotWatchable for inputs with no local files.
   */
  watch(options: WatchOptions = {}): AsyncGenerator<WatchUpdate, void, undefined> {
    return watchInput(this.config, () => this.refresh(), options);
  }

  #walk(onEvent: (event: EvalEvent) => void, consumerReady?: () => Promise<void> | undefined): Promise<RunResult> {
    return evaluate(this.config, { ...this.#options, onEvent, ...(consumerReady ? { consumerReady } : {}) });
  }
}
