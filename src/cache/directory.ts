/**
 * Where the evaluation cache lives by default: in the user's cache
 * directory, or in its writable stand-in when that cannot be written (see
 * src/xdg-home.ts). Its own module so that the command line can name the
 * directory without loading SQLite and crypto before Nix has started (see
 * src/prepare.ts).
 */
import { join } from 'node:path';
import { xdgHome } from '../xdg-home.js';

export function defaultCacheDirectory(): string {
  return join(xdgHome('XDG_CACHE_HOME').path, 'evix');
}
