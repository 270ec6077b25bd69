/**
 * Which attribute each description of a sweep is for. A sweep describes its
 * attributes level by level (see `sweep` in nix-helpers): first those it was
 * given, in order, then the children of every set among them it walks into,
 * in order, and so on. Pure: descriptions in, attributes out; what is not
 * described yet is always known, so a sweep that stops early leaves a list
 * of attributes to finish, not a guess.
 */
import { childPath, type AttrPath } from '../nix/syntax.js';
import type { WorkUnit } from '../work.js';
import { DESCRIBED, type Description, type SiblingRange } from './nix-helpers.js';

/** An attribute a sweep is asked for: its path and its position among its parent's attrs. */
export interface SweepItem {
  readonly path: AttrPath;
  readonly index: number;
}

/** Which of a walked attribute's children a sweep of a part takes: every `parts`-th from `part`. */
export interface ChildSlice {
  part: number;
  parts: number;
}

/**
 * A run of a level's attributes: the ones a sweep was given, or the
 * children of a set it walks into, which become items only as their
 * descriptions arrive. A part of a flat root holds 50k children: made at
 * once, their items and paths outlived several of V8's scavenges, were
 * copied and promoted for nothing, and the master's collector spent
 * more on them than on the events.
 */
type Run = { items: readonly SweepItem[]; at: number } | { parent: AttrPath; names: readonly string[]; at: number; step: number };

/** The next attribute of a run, which it then passes; undefined at its end. */
function takeFrom(run: Run): SweepItem | undefined {
  if ('items' in run) return run.items[run.at++];
  if (run.at >= run.names.length) return undefined;
  const index = run.at;
  run.at += run.step;
  return { path: childPath(run.parent, run.names[index]!), index };
}

/** The attributes a run has not passed yet, leaving it as it is. */
function restOf(run: Run): SweepItem[] {
  const rest = { ...run };
  const items: SweepItem[] = [];
  for (let item = takeFrom(rest); item !== undefined; item = takeFrom(rest)) items.push(item);
  return items;
}

export class SweepLevels {
  #level: Run[];
  /** The run of #level the next description is for. */
  #run = 0;
  #next: Run[] = [];
  /** For a part (see the `part` WorkUnit): applied to the children of the first attribute, the root it sweeps. */
  #slice: ChildSlice | undefined;

  constructor(items: SweepItem[], slice?: ChildSlice) {
    this.#level = [{ items, at: 0 }];
    this.#slice = slice;
  }

  /** The attribute the next description is for; undefined when every one is described. */
  #advance(): SweepItem | undefined {
    for (;;) {
      const run = this.#level[this.#run];
      if (run === undefined) {
        if (this.#next.length === 0) return undefined;
        this.#level = this.#next;
        this.#next = [];
        this.#run = 0;
        continue;
      }
      const item = takeFrom(run);
      if (item !== undefined) return item;
      this.#run++;
    }
  }

  /**
   * Pairs descriptions with their attributes, in order; a set walked into
   * puts its children on the next level. Throws when there are more
   * descriptions than attributes (the sweep and this disagree).
   */
  take(descriptions: readonly Description[]): Array<[SweepItem, Description]> {
    const pairs: Array<[SweepItem, Description]> = [];
    for (const d of descriptions) {
      const item = this.#advance();
      if (item === undefined) throw new Error('a sweep described more attributes than it was asked for');
      if (d[0] === DESCRIBED.walk) this.#next.push(childRun(item.path, d[1], this.#slice));
      this.#slice = undefined;
      pairs.push([item, d]);
    }
    return pairs;
  }

  /** The attributes not described yet, in the order the sweep would have described them. */
  remaining(): SweepItem[] {
    return this.#level.slice(this.#run).concat(this.#next).flatMap(restOf);
  }
}

function childRun(path: AttrPath, names: readonly string[], slice: ChildSlice = { part: 0, parts: 1 }): Run {
  return { parent: path, names, at: slice.part, step: slice.parts };
}

/** The children of the set at `path` (named `names`, in order) that a sweep takes: every one, or a part's slice. */
export function childItems(path: AttrPath, names: readonly string[], slice?: ChildSlice): SweepItem[] {
  return restOf(childRun(path, names, slice));
}

/** Items as sibling ranges: consecutive children of one parent make one range. */
export function itemRanges(items: readonly SweepItem[]): SiblingRange[] {
  const ranges: SiblingRange[] = [];
  let last: SiblingRange | undefined;
  for (const { path, index } of items) {
    const parent = path.slice(0, -1);
    if (last && index === last.from + last.count && samePath(parent, last.parent)) {
      last.count++;
      continue;
    }
    last = { parent, from: index, count: 1 };
    ranges.push(last);
  }
  return ranges;
}

function samePath(a: AttrPath, b: AttrPath): boolean {
  return a.length === b.length && a.every((name, i) => name === b[i]);
}

/** Items as work: consecutive children of one parent make one unit of siblings, at their positions. */
export function itemUnits(items: readonly SweepItem[]): WorkUnit[] {
  let at = 0;
  return itemRanges(items).map((range) => {
    const names = items.slice(at, at + range.count).map((item) => item.path.at(-1)!);
    at += range.count;
    return { kind: 'siblings', parent: range.parent, from: range.from, names };
  });
}
