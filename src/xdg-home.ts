/**
 * The user's XDG data and cache directories as Nix and evix find them
 * ($XDG_DATA_HOME, else ~/.local/share; $XDG_CACHE_HOME, else ~/.cache),
 * or, when that one cannot be written (a read-only $HOME: a sandbox, a
 * container, a locked-down CI runner), a private directory of the user's
 * under the temporary directory in its place: a read-only home must not
 * stop an evaluation, which only caches there. Decided once per process,
 * with a few system calls.
 */
import { accessSync, constants, lstatSync, mkdirSync } from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export type XdgVariable = 'XDG_DATA_HOME' | 'XDG_CACHE_HOME';

export interface XdgHome {
  path: string;
  /** True when `path` stands in for the user's directory, which cannot be written. */
  replaced: boolean;
}

const UNDER_HOME: Record<XdgVariable, string> = { XDG_DATA_HOME: '.local/share', XDG_CACHE_HOME: '.cache' };
const STAND_IN: Record<XdgVariable, string> = { XDG_DATA_HOME: 'data', XDG_CACHE_HOME: 'cache' };

const decided = new Map<XdgVariable, XdgHome>();

export function xdgHome(variable: XdgVariable): XdgHome {
  let home = decided.get(variable);
  if (home === undefined) {
    home = decide(variable);
    decided.set(variable, home);
  }
  return home;
}

function decide(variable: XdgVariable): XdgHome {
  const users = process.env[variable] || join(homedir(), UNDER_HOME[variable]);
  if (canWrite(users)) return { path: users, replaced: false };
  const standIn = privateDirectory();
  // Without one, the user's stays: Nix then fails as it would have, in its own words.
  return standIn === undefined ? { path: users, replaced: false } : { path: join(standIn, STAND_IN[variable]), replaced: true };
}

/** Whether `path` can be written, or made: the nearest of it and its parents that exists can be written. */
function canWrite(path: string): boolean {
  for (let at = path; ; at = dirname(at)) {
    try {
      accessSync(at, constants.W_OK);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT' || at === dirname(at)) return false;
    }
  }
}

/**
 * `evix-xdg-UID` under the temporary directory, made 0700; undefined when
 * it cannot be made or is not a directory of ours that only we can enter
 * (another user could have made it first, to read or plant cached files).
 */
function privateDirectory(): string | undefined {
  const uid = process.getuid?.() ?? 0;
  const dir = join(tmpdir(), `evix-xdg-${uid}`);
  try {
    mkdirSync(dir, { mode: 0o700 });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
  }
  try {
    const info = lstatSync(dir);
    return info.isDirectory() && info.uid === uid && (info.mode & 0o077) === 0 && canWrite(dir) ? dir : undefined;
  } catch {
    return undefined;
  }
}
