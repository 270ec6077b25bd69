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

export class SweepLevels {
  #level: SweepItem[];
  #at = 0;
  #next: SweepItem[] = [];
  /** For a part (see the `part` WorkUnit): applied to the children of the first attribute, the root it sweeps. */
  #slice: ChildSlice | undefined;

  constructor(items: SweepItem[], slice?: ChildSlice) {
    this.#level = items;
    this.#slice = slice;
  }

  /** The attribute the next description is for; undefined when every one is described. */
  #advance(): SweepItem | undefined {
    if (this.#at === this.#level.length) {
      this.#level = this.#next;
      this.#next = [];
      this.#at = 0;
    }
    return this.#level[this.#at++];
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
      if (d[0] === DESCRIBED.walk) for (const child of childItems(item.path, d[1], this.#slice)) this.#next.push(child);
      this.#slice = undefined;
      pairs.push([item, d]);
    }
    return pairs;
  }

  /** The attributes not described yet, in the order the sweep would have described them. */
  remaining(): SweepItem[] {
    return this.#level.slice(this.#at).concat(this.#next);
  }
}

/** The children of the set at `path` (named `names`, in order) that a sweep takes: every one, or a part's slice. */
export function childItems(path: AttrPath, names: readonly string[], slice: ChildSlice = { part: 0, parts: 1 }): SweepItem[] {
  const items: SweepItem[] = [];
  for (let index = slice.part; index < names.length; index += slice.parts) items.push({ path: childPath(path, names[index]!), index });
  return items;
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
