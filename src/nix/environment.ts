/**
 * The environment of every Nix child evix starts: evix's own, with two
 * changes.
 *
 * The XDG directories Nix writes to point at a writable stand-in when the
 * user's cannot be written (src/xdg-home.ts). Nix 2.8's repl does not start
 * when it cannot make ~/.local/share/nix for its history (nix-instantiate
 * writes nothing there); `nix eval` keeps its evaluation cache under the
 * cache directory, and Nix 2.34 its fetcher cache, without which it cannot
 * fetch even a path flake.
 *
 * The garbage collector's first heap is 64 MiB (GC_INITIAL_HEAP_SIZE,
 * unless the user set it). Nix starts with a quarter of the machine's
 * memory, up to 384 MiB, so that a short evaluation never collects; but
 * then every allocation touches a page never touched before, and the
 * kernel's first-touch faults cost more than the collections they avoid.
 * Measured on 2 cores: the heavy machines fixture 2.62 s → 1.61 s with two
 * workers (children's system time 1.68 s → 0.65 s, their peak 400 →
 * 116 MiB); flat 100k 3.6 → 3.3 s; the heavy fixture's drvPaths alone on
 * Nix 2.26 4.2–6.1 → 3.0 s, on 2.34 4.9–5.7 → 2.5 s. 16, 32 and 128 MiB
 * were no better, 256 close to the default. The collector grows the heap
 * as the evaluation needs, so a large input pays a few collections at its
 * start.
 *
 * A sweep (src/worker/sweep.ts) starts with 128 MiB: it is chosen for
 * parts of thousands of cheap attributes, whose evaluation fills far more
 * than that, so it touches no page it would not have touched anyway, and
 * each collection before the heap reached its size marked what the sweep
 * holds (the root set and every derivation evaluated so far) for nothing.
 * Measured on a 2-core VM whose page faults are cheaper than the first
 * one's: a part of flat 100k (half its attributes) 0.79-0.87 s at 64 MiB,
 * 0.72-0.77 s at 128 MiB, peak 209 against 203 MiB; the 6^4 tree's
 * evaluation is unchanged (31 MiB either way). A repl keeps 64 MiB: the
 * heavy fixture gained 3% from 128 MiB but its peak went from 116 to
 * 178 MiB, and a repl's memory is what --max-memory weighs.
 */
import { xdgHome, type XdgVariable } from '../xdg-home.js';

const WRITTEN_BY_NIX: readonly XdgVariable[] = ['XDG_DATA_HOME', 'XDG_CACHE_HOME'];

/** GC_INITIAL_HEAP_SIZE for every Nix child but a sweep. */
const INITIAL_HEAP = '64M';
export const SWEEP_INITIAL_HEAP = '128M';

export function nixEnvironment(initialHeap = INITIAL_HEAP): NodeJS.ProcessEnv {
  const standIns = WRITTEN_BY_NIX.filter((variable) => xdgHome(variable).replaced);
  return {
    GC_INITIAL_HEAP_SIZE: initialHeap,
    ...process.env,
    ...Object.fromEntries(standIns.map((variable) => [variable, xdgHome(variable).path])),
  };
}
