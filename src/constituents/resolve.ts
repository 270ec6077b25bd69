/**
 * --constituents, the pure part: which jobs each aggregate stands for, in
 * which order aggregates can be rewritten (an aggregate naming another needs
 * the other's new .drv first), and which aggregates fail: a named
 * constituent that does not exist or failed to evaluate, a pattern that
 * matches nothing, a cycle of aggregates.
 */

export interface Job {
  /** The job's name as nix-eval-jobs spells its attr (constituents name jobs this way). */
  name: string;
  drvPath?: string;
  error?: string;
  aggregate?: { constituents: string[]; named: string[]; glob: boolean };
}

export interface Plan {
  /** Aggregates to rewrite, each after the aggregates it names. */
  order: Array<{ name: string; drvPaths: string[]; namedJobs: string[] }>;
  /** Aggregates that cannot be rewritten, with why. */
  failed: Map<string, string>;
}

/** fnmatch-style: `*` any run of characters, `?` one, `[...]` a class. */
export function globToRegExp(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i]!;
    if (c === '*') source += '.*';
    else if (c === '?') source += '.';
    else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end === -1) source += '\\[';
      else {
        const body = pattern.slice(i + 1, end).replace(/^!/, '^').replace(/\\/g, '\\\\');
        source += `[${body}]`;
        i = end;
      }
    } else source += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${source}$`, 's');
}

export function planAggregates(jobs: ReadonlyMap<string, Job>): Plan {
  const failed = new Map<string, string>();
  const named = new Map<string, string[]>();
  for (const job of jobs.values()) {
    if (!job.aggregate) continue;
    const members: string[] = [];
    for (const wanted of job.aggregate.named) {
      if (job.aggregate.glob) {
        const pattern = globToRegExp(wanted);
        const matches = [...jobs.keys()].filter((n) => n !== job.name && pattern.test(n)).sort();
        if (matches.length === 0) failed.set(job.name, `constituent pattern '${wanted}' matches no job`);
        members.push(...matches);
      } else if (!jobs.has(wanted)) {
        failed.set(job.name, `constituent '${wanted}' does not exist`);
      } else {
        members.push(wanted);
      }
    }
    const broken = members.find((m) => jobs.get(m)?.error !== undefined);
    if (broken !== undefined && !failed.has(job.name)) failed.set(job.name, `constituent '${broken}' failed to evaluate: ${jobs.get(broken)!.error!.split('\n', 1)[0]}`);
    named.set(job.name, [...new Set(members)]);
  }

  const order: Plan['order'] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (name: string, stack: string[]): void => {
    if (state.get(name) === 'done') return;
    if (state.get(name) === 'visiting') {
      const cycle = [...stack.slice(stack.indexOf(name)), name];
      for (const member of cycle) if (!failed.has(member)) failed.set(member, `aggregate cycle: ${cycle.join(' -> ')}`);
      return;
    }
    state.set(name, 'visiting');
    const members = named.get(name) ?? [];
    for (const member of members) if (jobs.get(member)?.aggregate) visit(member, [...stack, name]);
    state.set(name, 'done');
    const dependency = members.find((m) => failed.has(m));
    if (dependency !== undefined && !failed.has(name)) failed.set(name, `constituent '${dependency}' failed: ${failed.get(dependency)}`);
    if (failed.has(name)) return;
    const job = jobs.get(name)!;
    order.push({ name, drvPaths: job.aggregate!.constituents, namedJobs: members });
  };
  for (const name of [...named.keys()].sort()) visit(name, []);
  return { order, failed };
}
