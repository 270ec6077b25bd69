/**
 * --constituents: aggregates wait until the walk is over (their named
 * constituents may be found last), then are resolved and rewritten as
 * nix-eval-jobs does and printed; an aggregate that cannot be becomes an
 * error event. Every other event passes straight through.
 */
import { planAggregates, type Job } from '../constituents/resolve.js';
import { rewriteAggregate } from '../constituents/rewrite.js';
import { isDerivationEvent, isErrorEvent, type DerivationEvent, type EvalEvent } from '../events.js';
import type { Logger } from '../log.js';
import { nixEvalJobsAttr } from './formats.js';

export class ConstituentsSink {
  readonly #next: (event: EvalEvent) => void;
  readonly #cwd: string;
  readonly #log: Logger;
  readonly #jobs = new Map<string, Job>();
  readonly #aggregates = new Map<string, DerivationEvent>();

  constructor(next: (event: EvalEvent) => void, cwd: string, log: Logger) {
    this.#next = next;
    this.#cwd = cwd;
    this.#log = log;
  }

  readonly add = (event: EvalEvent): void => {
    const name = nixEvalJobsAttr(event.attrPath);
    if (isErrorEvent(event)) this.#jobs.set(name, { name, error: event.error });
    if (!isDerivationEvent(event)) return this.#next(event);
    const aggregate = event.constituents !== undefined || event.namedConstituents !== undefined;
    this.#jobs.set(name, {
      name,
      drvPath: event.drvPath,
      ...(aggregate ? { aggregate: { constituents: event.constituents ?? [], named: event.namedConstituents ?? [], glob: event.globConstituents ?? false } } : {}),
    });
    if (aggregate) this.#aggregates.set(name, event);
    else this.#next(event);
  };

  /** Resolves and rewrites the aggregates, then passes them on. */
  async finish(): Promise<void> {
    const plan = planAggregates(this.#jobs);
    const rewritten = new Map<string, string>();
    const memo = new Map<string, Uint8Array>();
    for (const { name, drvPaths, namedJobs } of plan.order) {
      const event = this.#aggregates.get(name)!;
      const constituents = [...new Set([...drvPaths, ...namedJobs.map((j) => rewritten.get(j) ?? this.#jobs.get(j)!.drvPath!)])];
      try {
        const result = await rewriteAggregate(event.drvPath, constituents, memo, this.#cwd);
        rewritten.set(name, result.drvPath);
        const { namedConstituents: _named, globConstituents: _glob, ...rest } = event;
        this.#next({ ...rest, drvPath: result.drvPath, outputs: { ...event.outputs, out: result.out }, constituents });
      } catch (error) {
        this.#log.error({ attr: event.attr, err: (error as Error).message }, 'cannot rewrite aggregate');
        plan.failed.set(name, `cannot rewrite the aggregate: ${(error as Error).message}`);
      }
    }
    for (const [name, why] of plan.failed) {
      const event = this.#aggregates.get(name);
      if (event) this.#next({ attr: event.attr, attrPath: event.attrPath, error: why, fatal: false });
    }
  }
}
