/**
 * What earlier attempts at a chunk delivered, for a worker that answers a
 * chunk as it goes but, failing, cannot say what it left unanswered (a
 * remote whose connection was lost mid-part: see Scheduler.stream). The
 * chunk is tried again whole, and its new answer is filtered through this
 * record, so nothing is delivered twice and nothing is lost.
 *
 * It rests on one property of every answer: a set's result comes before
 * anything under it. So a set delivered with its children queued (the
 * worker did not walk them) has nothing under it delivered, and its queued
 * children will bring everything under it.
 */
import type { AttrPath } from '../nix/syntax.js';

/** What became of an attribute in an earlier attempt (see EarlierAnswers.before). */
export type EarlierFate = 'delivered' | 'queued' | 'walked';

export class EarlierAnswers {
  /** By path key (pathKey): how each delivered attribute was answered. */
  readonly #fates = new Map<string, 'leaf' | 'children-queued' | 'walked'>();

  /**
   * `path` was delivered: a leaf (a derivation, an error, a skip), or a set
   * whose children went on the queue, or a set the worker walked itself.
   */
  add(path: AttrPath, answered: 'leaf' | 'children-queued' | 'walked'): void {
    this.#fates.set(pathKey(path), answered);
  }

  /**
   * What became of `path` before: `delivered` (its result stands), `queued`
   * (it lies under a set whose children were queued: they answer it),
   * `walked` (a set delivered with its children walked: some under it may
   * have been delivered, the rest not), or undefined (answer it now).
   */
  before(path: AttrPath): EarlierFate | undefined {
    let key = '';
    for (const name of path) {
      if (this.#fates.get(key) === 'children-queued') return 'queued';
      key += `\0${name}`;
    }
    const fate = this.#fates.get(key);
    return fate === undefined ? undefined : fate === 'walked' ? 'walked' : 'delivered';
  }

  /**
   * The set at `path`, walked before, is answered now with its children
   * left to the queue: returns the record of what was delivered under it,
   * for the queue's chunks of those children, and counts everything under
   * it as theirs from now on (a later attempt delivers none of it).
   */
  requeue(path: AttrPath): EarlierAnswers {
    const key = pathKey(path);
    const under = new EarlierAnswers();
    for (const [k, fate] of this.#fates) if (k.length > key.length && k.startsWith(key) && k[key.length] === '\0') under.#fates.set(k, fate);
    this.#fates.set(key, 'children-queued');
    return under;
  }
}

/**
 * A path as one string: each name behind a NUL, which no Nix string holds,
 * so distinct paths get distinct keys (the root's is empty, a child named ""
 * of the root is one NUL) and an ancestor's key is a prefix of its
 * descendants' keys.
 */
function pathKey(path: AttrPath): string {
  let key = '';
  for (const name of path) key += `\0${name}`;
  return key;
}
