/**
 * Where the evaluation cache lives by default. Its own module so that the
 * command line can name the directory without loading SQLite and crypto
 * before Nix has started (see src/prepare.ts).
 */
import { homedir } from 'node:os';
import { join } from 'node:path';

export function defaultCacheDirectory(): string {
  return join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'evix');
}
