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
 */
import { xdgHome, type XdgVariable } from '../xdg-home.js';

const WRITTEN_BY_NIX: readonly XdgVariable[] = ['XDG_DATA_HOME', 'XDG_CACHE_HOME'];

const INITIAL_HEAP = '64M';

export function nixEnvironment(): NodeJS.ProcessEnv {
  const standIns = WRITTEN_BY_NIX.filter((variable) => xdgHome(variable).replaced);
  return {
    GC_INITIAL_HEAP_SIZE: INITIAL_HEAP,
    ...process.env,
    ...Object.fromEntries(standIns.map((variable) => [variable, xdgHome(variable).path])),
  };
}
