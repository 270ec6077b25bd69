/**
 * --constituents, the pure part, with nix-eval-jobs' rules and messages
 * (its clients and test suite read them): which jobs each aggregate names,
 * in which order aggregates are rewritten (one naming another needs the
 * other's new .drv first), and which fail.
 *
 * Only aggregates that name constituents wait for the walk to end; those
 * given derivations only already have them as inputs. A named constituent
 * that does not exist or failed to evaluate, or a pattern that matches no
 * job that evaluated, makes the aggregate fail with one `NAME: WHY` line
 * per cause. A cycle among aggregates fails its two ends with `Dependency
 * cycle: A <-> B` and skips every other waiting aggregate, rewriting none.
 */

export interface Job {
  /** The job's name as nix-eval-jobs spells its attr (constituents name jobs this way). */
  name: string;
  drvPath?: string;
  error?: string;
  /** Set for an aggregate that names constituents (`namedConstituents` not empty). */
  aggregate?: { named: string[]; glob: boolean };
}

/** What becomes of one waiting aggregate, in the order they are printed. */
export interface AggregateOutcome {
  name: string;
  /** The jobs it stands for, sorted; their .drv become constituents when it does not fail. */
  members: string[];
  /** Why it fails; it is not rewritten then. */
  error?: string;
  /** A member of a cycle keeps its namedConstituents (nix-eval-jobs prints them). */
  inCycle?: boolean;
}

export const CYCLE_SKIPPED = 'Skipping aggregate because of a dependency cycle';

/** fnmatch(3) without flags: `*` any run of characters (`.` and `/` too), `?` one, `[...]` a class, `\` escapes. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '\\' && i + 1 < pattern.length) source += escape(pattern[++i]!);
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = end;
      }
    } else source += escape(c);
  }
  return new RegExp(`^${source}$`, 's');
}

const escape = (c: string): string => c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

export function planAggregates(jobs: ReadonlyMap<string, Job>): AggregateOutcome[] {
  const waiting = [...jobs.values()].filter((job) => job.aggregate).sort((a, b) => compareBytes(a.name, b.name));
  const outcomes = new Map<string, AggregateOutcome>();
  for (const job of waiting) outcomes.set(job.name, resolveMembers(job, jobs));

  // Dependencies first, otherwise by name; the first cycle found stops everything.
  const order: AggregateOutcome[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  let cycle: [string, string] | undefined;
  const visit = (name: string, parent: string | undefined): void => {
    if (cycle || state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      cycle = [name, parent!];
      return;
    }
    state.set(name, 'visiting');
    for (const member of outcomes.get(name)!.members) if (member !== name && outcomes.has(member)) visit(member, name);
    state.set(name, 'done');
    order.push(outcomes.get(name)!);
  };
  for (const job of waiting) visit(job.name, undefined);
  if (!cycle) return order;

  const [a, b] = cycle;
  const error = `Dependency cycle: ${a} <-> ${b}`;
  const ends = [a, b].map((name) => ({ ...outcomes.get(name)!, error, inCycle: true }));
  const skipped = waiting.filter((job) => job.name !== a && job.name !== b).map((job) => ({ ...outcomes.get(job.name)!, error: CYCLE_SKIPPED }));
  return [...ends, ...skipped];
}

/** The jobs an aggregate names, and why it fails if it does. */
function resolveMembers(job: Job, jobs: ReadonlyMap<string, Job>): AggregateOutcome {
  const { named, glob } = job.aggregate!;
  const members = new Set<string>();
  const broken = new Map<string, string>();
  const take = (name: string) => {
    const error = jobs.get(name)!.error;
    if (error === undefined) members.add(name);
    else broken.set(name, error);
  };
  for (const wanted of named) {
    if (jobs.has(wanted)) take(wanted);
    else if (!glob) broken.set(wanted, 'does not exist');
    else {
      const pattern = globToRegExp(wanted);
      const matches = [...jobs.keys()].filter((name) => name !== job.name && pattern.test(name));
      for (const match of matches) take(match);
      if (!matches.some((match) => jobs.get(match)!.error === undefined)) broken.set(wanted, 'constituent glob pattern had no matches');
    }
  }
  const outcome: AggregateOutcome = { name: job.name, members: [...members].sort(compareBytes) };
  if (broken.size > 0) outcome.error = [...broken].map(([name, why]) => `${name}: ${why}\n`).join('');
  return outcome;
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}
