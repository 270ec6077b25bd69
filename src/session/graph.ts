/**
 * A walked tree as data: every derivation and error by its attr. Pure:
 * building it from events, looking things up in it, and comparing two.
 */
import { isDerivationEvent, isErrorEvent, type DerivationEvent, type ErrorEvent, type EvalEvent } from '../events.js';
import { globToRegExp } from '../constituents/resolve.js';

export interface Graph {
  derivations: Map<string, DerivationEvent>;
  errors: Map<string, ErrorEvent>;
}

export function emptyGraph(): Graph {
  return { derivations: new Map(), errors: new Map() };
}

export function addToGraph(graph: Graph, event: EvalEvent): void {
  if (isDerivationEvent(event)) graph.derivations.set(event.attr, event);
  else if (isErrorEvent(event)) graph.errors.set(event.attr, event);
}

/** Orders events by attr, code unit by code unit (stable across locales). */
function byAttr(a: { attr: string }, b: { attr: string }): number {
  return a.attr < b.attr ? -1 : a.attr > b.attr ? 1 : 0;
}

export interface QueryFilter {
  /** Keep derivations for any of these systems (all when empty). */
  systems?: string[];
  /**
   * Keep attrs matching any of these (all when empty): an exact attr, a
   * prefix of whole names (`packages` keeps `packages.hello`), or a glob
   * with `*` and `?`.
   */
  attrs?: string[];
}

function attrMatcher(patterns: readonly string[]): (attr: string) => boolean {
  if (patterns.length === 0) return () => true;
  const tests = patterns.map((p) => {
    if (/[*?[]/.test(p)) {
      const glob = globToRegExp(p);
      return (attr: string) => glob.test(attr);
    }
    return (attr: string) => attr === p || attr.startsWith(`${p}.`);
  });
  return (attr) => tests.some((t) => t(attr));
}

/** Derivations and errors that pass the filter, derivations first, each sorted by attr. */
export function queryGraph(graph: Graph, filter: QueryFilter): EvalEvent[] {
  const matches = attrMatcher(filter.attrs ?? []);
  const systems = new Set(filter.systems ?? []);
  const drvs = [...graph.derivations.values()].filter((d) => matches(d.attr) && (systems.size === 0 || systems.has(d.system)));
  const errors = systems.size === 0 ? [...graph.errors.values()].filter((e) => matches(e.attr)) : [];
  return [...drvs.sort(byAttr), ...errors.sort(byAttr)];
}

export interface GraphDiff {
  added: DerivationEvent[];
  removed: DerivationEvent[];
  /** Same attr, another .drv. */
  changed: Array<{ attr: string; before: DerivationEvent; after: DerivationEvent }>;
  /** Errors of the new graph. */
  errors: ErrorEvent[];
}

export function diffGraphs(before: Graph, after: Graph): GraphDiff {
  const added: DerivationEvent[] = [];
  const changed: GraphDiff['changed'] = [];
  for (const [attr, now] of after.derivations) {
    const then = before.derivations.get(attr);
    if (!then) added.push(now);
    else if (then.drvPath !== now.drvPath) changed.push({ attr, before: then, after: now });
  }
  const removed = [...before.derivations.values()].filter((d) => !after.derivations.has(d.attr));
  return { added: added.sort(byAttr), removed: removed.sort(byAttr), changed: changed.sort(byAttr), errors: [...after.errors.values()].sort(byAttr) };
}
