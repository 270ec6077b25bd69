/** evix's own version, as its package.json says. */
import { readFileSync } from 'node:fs';

/** Found from dist/cli (tsc's output) and from the bundle in dist/bin alike: the package root is one or two levels up. */
export function packageVersion(): string {
  for (const up of ['../package.json', '../../package.json']) {
    try {
      const manifest = JSON.parse(readFileSync(new URL(up, import.meta.url), 'utf8')) as { name?: string; version?: string };
      if (manifest.name === 'evix' && manifest.version) return manifest.version;
    } catch {
      // Not here: one level further up.
    }
  }
  return 'unknown';
}
