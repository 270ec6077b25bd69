/**
 * --constituents: aggregates that name constituents wait until the walk is
 * over (the jobs they name may be found last), then are resolved and
 * rewritten as nix-eval-jobs does (see planAggregates) and passed on; one
 * that fails becomes an error event carrying the aggregate's derivation
 * (nix-eval-jobs prints it with the error). Every other event passes
 * straight through.
 */
import { planAggregates, type Job } from '../constituents/resolve.js';
import { rewriteAggregate } from '../constituents/rewrite.js';
import { isDerivationEvent, isErrorEvent, type DerivationEvent, type EvalEvent } from '../events.js';
import type { Logger } from '../log.js';
import { nixErrorText, nixEvalJobsAttr } from './formats.js';

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
    if (isErrorEvent(event)) this.#jobs.set(name, { name, error: nixErrorText(event.error) });
    if (!isDerivationEvent(event)) return this.#next(event);
    const named = event.namedConstituents ?? [];
    this.#jobs.set(name, { name, drvPath: event.drvPath, ...(named.length > 0 ? { aggregate: { named, glob: event.globConstituents ?? false } } : {}) });
    if (named.length > 0) this.#aggregates.set(name, event);
    else this.#next(event);
  };

  /** Resolves and rewrites the aggregates, then passes them on. */
  async finish(): Promise<void> {
    const rewritten = new Map<string, string>();
    const memo = new Map<string, Uint8Array>();
    for (const { name, members, error, inCycle } of planAggregates(this.#jobs)) {
      const event = this.#aggregates.get(name)!;
      const { namedConstituents: _named, ...resolved } = event;
      if (error !== undefined) {
        this.#next({ attr: event.attr, attrPath: event.attrPath, error, fatal: false, aggregate: inCycle ? event : resolved });
        continue;
      }
      const constituents = [...new Set([...(event.constituents ?? []), ...members.map((job) => rewritten.get(job) ?? this.#jobs.get(job)!.drvPath!)])];
      try {
        const result = await rewriteAggregate(event.drvPath, constituents, memo, this.#cwd);
        rewritten.set(name, result.drvPath);
        this.#next({ ...resolved, drvPath: result.drvPath, outputs: { ...event.outputs, out: result.out }, constituents });
      } catch (error) {
        this.#log.error({ attr: event.attr, err: (error as Error).message }, 'cannot rewrite aggregate');
        this.#next({ attr: event.attr, attrPath: event.attrPath, error: `cannot rewrite the aggregate: ${(error as Error).message}`, fatal: false, aggregate: resolved });
      }
    }
  }
}
