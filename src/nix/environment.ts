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
 * A sweep (src/worker/sweep.ts) also has GC_FREE_SPACE_DIVISOR=1 (the
 * collector's default is 3): after a collection the heap grows until the
 * free space is as large as the heap, not a third of it. A sweep is chosen
 * for parts of thousands of cheap attributes, and what it holds grows with
 * every derivation it evaluates (the root set keeps them), so each
 * collection marks more; fewer collections are what it gains. A part of
 * flat 100k (half its attributes), min of three on a 2-core VM: 0.69 s at
 * the default divisor, 0.65 s at 1 (peak 196 against 213 MiB). A larger
 * first heap instead (128 MiB) was as fast there but made every sweep that
 * allocates much and keeps little (the heavy machines fixture) hold its
 * garbage: 181 MiB against 120-128, where the divisor gives 128-137, and
 * 0.96 s against 1.00. The price is memory where an attribute makes much
 * garbage: test/fixtures/memory.nix's attribute peaks at 194 MiB in a sweep
 * against 131 MiB at the default divisor. A repl keeps the default: its
 * memory is what --max-memory weighs, a request at a time, and an
 * attribute a sweep was killed for goes to a repl.
 */
import { xdgHome, type XdgVariable } from '../xdg-home.js';

const WRITTEN_BY_NIX: readonly XdgVariable[] = ['XDG_DATA_HOME', 'XDG_CACHE_HOME'];

const INITIAL_HEAP = '64M';
const SWEEP_FREE_SPACE_DIVISOR = '1';

/** The environment for a Nix child; `sweep` for a sweep's nix-instantiate (see above). */
export function nixEnvironment(child: 'sweep' | 'other' = 'other'): NodeJS.ProcessEnv {
  const standIns = WRITTEN_BY_NIX.filter((variable) => xdgHome(variable).replaced);
  return {
    GC_INITIAL_HEAP_SIZE: INITIAL_HEAP,
    ...(child === 'sweep' ? { GC_FREE_SPACE_DIVISOR: SWEEP_FREE_SPACE_DIVISOR } : {}),
    ...process.env,
    ...Object.fromEntries(standIns.map((variable) => [variable, xdgHome(variable).path])),
  };
}
