/**
 * The unit of work a master hands a worker: a chunk of attributes answered
 * in one request. Many small attributes cost little to evaluate but one
 * round trip each to the evaluator; a chunk pays that once (see
 * docs/architecture.md, "Chunks").
 *
 * Siblings are named by their position in their parent's `attrs` list (the
 * one its attrset event carried), so a request for a thousand children of a
 * set is a few bytes long whatever their names; the names travel too, so the
 * evaluator can check that its set agrees and build the events.
 */
import type { WorkResult } from './events.js';
import { childPath, type AttrPath } from './nix/syntax.js';

export type WorkUnit =
  /** One attribute by name: a root of the walk. */
  | { readonly kind: 'path'; readonly path: AttrPath }
  /** Consecutive children of one set: `names[i]` is child `from + i` of its attrs list. */
  | { readonly kind: 'siblings'; readonly parent: AttrPath; readonly from: number; readonly names: readonly string[] }
  /**
   * A root of the walk swept in `parts` parts at once (see Dispatcher): part
   * 0 answers the attribute itself; part k the children at positions k,
   * k + parts, k + 2 parts, ... of its attrs list, with everything under
   * them. Only for workers that sweep here or at the other end of a
   * connection (Worker.answersParts).
   */
  | { readonly kind: 'part'; readonly path: AttrPath; readonly part: number; readonly parts: number };

export type WorkChunk = readonly WorkUnit[];

/**
 * A worker's answer to a chunk: one result per attribute of the chunk, in
 * order, followed by results for attributes found inside sets of the chunk
 * that the evaluator walked itself (cheap small sets: their children would
 * otherwise cost one request each); see AttrsetResult.childrenAnswered.
 */
export type ChunkAnswer = WorkResult[];

/** How many attributes a chunk names. */
export function chunkSize(chunk: WorkChunk): number {
  let n = 0;
  for (const unit of chunk) n += unit.kind === 'siblings' ? unit.names.length : 1;
  return n;
}

/** The attribute paths a chunk names, in order. */
export function chunkPaths(chunk: WorkChunk): AttrPath[] {
  const paths: AttrPath[] = [];
  for (const unit of chunk) {
    if (unit.kind !== 'siblings') paths.push(unit.path);
    else for (const name of unit.names) paths.push(childPath(unit.parent, name));
  }
  return paths;
}

/**
 * The fewest results a complete answer to `chunk` holds: one per attribute
 * it names, but a part past the first may have no children to answer.
 */
export function leastAnswer(chunk: WorkChunk): number {
  let n = 0;
  for (const unit of chunk) n += unit.kind === 'siblings' ? unit.names.length : unit.kind === 'part' && unit.part > 0 ? 0 : 1;
  return n;
}

/** What a sweep answers at its end (see Worker.sweep): results not yet delivered, and attributes it leaves to chunks. */
export interface SweepAnswer {
  results: ChunkAnswer;
  left: WorkUnit[];
}
