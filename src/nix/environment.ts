/**
 * The environment of every Nix child evix starts: evix's own, except that
 * the XDG directories Nix writes to point at a writable stand-in when the
 * user's cannot be written (src/xdg-home.ts). Nix 2.8's repl does not start
 * when it cannot make ~/.local/share/nix for its history (nix-instantiate
 * writes nothing there); `nix eval` keeps its evaluation cache under the
 * cache directory, and Nix 2.34 its fetcher cache, without which it cannot
 * fetch even a path flake. When both can be written nothing changes, and
 * the environment is not copied.
 */
import { xdgHome, type XdgVariable } from '../xdg-home.js';

const WRITTEN_BY_NIX: readonly XdgVariable[] = ['XDG_DATA_HOME', 'XDG_CACHE_HOME'];

export function nixEnvironment(): NodeJS.ProcessEnv {
  const standIns = WRITTEN_BY_NIX.filter((variable) => xdgHome(variable).replaced);
  if (standIns.length === 0) return process.env;
  return { ...process.env, ...Object.fromEntries(standIns.map((variable) => [variable, xdgHome(variable).path])) };
}
