/**
 * What it would take to have a derivation's outputs: nothing (all valid
 * here), downloads (substitutable from a binary cache), or builds. The rule
 * is Nix's own queryMissing: an output that is neither valid nor
 * substitutable means building its derivation, which needs that
 * derivation's inputs in turn; a substituted path needs its references.
 *
 * The store is asked in batches, level by level over the graph, through the
 * StoreQueries given (one Nix call per level and question, not per
 * derivation). Answers are remembered for the whole run, so derivations
 * that share a closure (a package set) cost the shared part once.
 */

export interface StoreQueries {
  /** The paths among `paths` that are not valid in the local store. */
  invalid(paths: string[]): Promise<Set<string>>;
  /** Of `paths`, those a substituter has, with their references. */
  substitutable(paths: string[]): Promise<Map<string, string[]>>;
  /** A derivation's output paths and input derivations (read from its .drv). */
  derivation(drvPath: string): Promise<{ outputs: Record<string, string>; inputDrvs: Record<string, string[]> }>;
}

export type CacheStatusName = 'local' | 'cached' | 'notBuilt';

export interface CacheStatus {
  cacheStatus: CacheStatusName;
  isCached: boolean;
  neededBuilds: string[];
  neededSubstitutes: string[];
}

interface Needs {
  builds: Set<string>;
  substitutes: Set<string>;
  /** Something is neither valid, substitutable nor buildable (a missing source). */
  unknown: boolean;
}

export class MissingPaths {
  readonly #queries: StoreQueries;
  readonly #valid = new Map<string, boolean>();
  /** Path to its references when a substituter has it; null when none has. */
  readonly #substitutes = new Map<string, string[] | null>();
  readonly #derivations = new Map<string, { outputs: Record<string, string>; inputDrvs: Record<string, string[]> }>();
  readonly #needs = new Map<string, Needs>();

  constructor(queries: StoreQueries) {
    this.#queries = queries;
  }

  /** The status of each derivation (with the output paths it has), in order. */
  async statusOf(drvs: ReadonlyArray<{ drvPath: string; outputs: Record<string, string> }>): Promise<CacheStatus[]> {
    await this.#explore(drvs.map((d) => ({ drvPath: d.drvPath, outputs: Object.keys(d.outputs) })));
    return drvs.map((d) => {
      const needs = this.#needsOf(d.drvPath, Object.keys(d.outputs));
      const cacheStatus: CacheStatusName =
        needs.builds.size > 0 || needs.unknown ? 'notBuilt' : needs.substitutes.size > 0 ? 'cached' : 'local';
      return { cacheStatus, isCached: cacheStatus !== 'notBuilt', neededBuilds: [...needs.builds].sort(), neededSubstitutes: [...needs.substitutes].sort() };
    });
  }

  /** Learns, level by level, the validity and substitutability of everything the derivations may need. */
  async #explore(start: Array<{ drvPath: string; outputs: string[] }>): Promise<void> {
    let frontier = start;
    const seen = new Set<string>();
    while (frontier.length > 0) {
      const drvs = await Promise.all(frontier.map(async (n) => ({ ...n, info: await this.#derivation(n.drvPath) })));
      const outputs = drvs.flatMap((d) => d.outputs.map((o) => d.info.outputs[o]).filter((p): p is string => p !== undefined));
      await this.#learn(outputs);
      const next: Array<{ drvPath: string; outputs: string[] }> = [];
      for (const d of drvs) {
        const missing = d.outputs.map((o) => d.info.outputs[o]).filter((p): p is string => p !== undefined && !this.#valid.get(p));
        if (missing.length === 0 || missing.every((p) => this.#substitutes.get(p))) continue;
        for (const [input, outs] of Object.entries(d.info.inputDrvs)) {
          const key = `${input}!${outs.join(',')}`;
          if (seen.has(key)) continue;
          seen.add(key);
          next.push({ drvPath: input, outputs: outs });
        }
      }
      frontier = next;
    }
  }

  /** Validity, then substitutability of the invalid, then the same for missing references. */
  async #learn(paths: string[]): Promise<void> {
    let todo = [...new Set(paths)].filter((p) => !this.#valid.has(p));
    while (todo.length > 0) {
      const invalid = await this.#queries.invalid(todo);
      for (const p of todo) this.#valid.set(p, !invalid.has(p));
      const ask = [...invalid].filter((p) => !this.#substitutes.has(p));
      const found = ask.length > 0 ? await this.#queries.substitutable(ask) : new Map<string, string[]>();
      for (const p of ask) this.#substitutes.set(p, found.get(p) ?? null);
      todo = [...new Set([...found.values()].flat())].filter((p) => !this.#valid.has(p));
    }
  }

  async #derivation(drvPath: string): Promise<{ outputs: Record<string, string>; inputDrvs: Record<string, string[]> }> {
    let read = this.#derivations.get(drvPath);
    if (!read) {
      read = await this.#queries.derivation(drvPath);
      this.#derivations.set(drvPath, read);
    }
    return read;
  }

  #needsOf(drvPath: string, outputs: string[]): Needs {
    const key = `${drvPath}!${[...outputs].sort().join(',')}`;
    const cached = this.#needs.get(key);
    if (cached) return cached;
    const needs: Needs = { builds: new Set(), substitutes: new Set(), unknown: false };
    this.#needs.set(key, needs); // a cycle cannot occur in a store graph; this also ends one
    const info = this.#derivations.get(drvPath)!;
    const missing = outputs.map((o) => info.outputs[o]).filter((p): p is string => p !== undefined && !this.#valid.get(p));
    if (missing.length === 0) return needs;
    if (missing.every((p) => this.#substitutes.get(p))) {
      for (const p of missing) this.#addSubstitute(p, needs);
      return needs;
    }
    needs.builds.add(drvPath);
    for (const [input, outs] of Object.entries(info.inputDrvs)) {
      const inner = this.#needsOf(input, outs);
      for (const b of inner.builds) needs.builds.add(b);
      for (const s of inner.substitutes) needs.substitutes.add(s);
      needs.unknown ||= inner.unknown;
    }
    return needs;
  }

  #addSubstitute(path: string, needs: Needs): void {
    if (needs.substitutes.has(path) || this.#valid.get(path)) return;
    const references = this.#substitutes.get(path);
    if (!references) {
      needs.unknown = true;
      return;
    }
    needs.substitutes.add(path);
    for (const r of references) if (r !== path) this.#addSubstitute(r, needs);
  }
}
