/**
 * What `watch` watches: a file input's directory; a local flake's directory
 * and the path inputs its flake.lock records. A flake that is not on this
 * machine (github:, https:) has nothing to watch and is refused.
 */
import { readFile } from 'node:fs/promises';
import { dirname, isAbsolute, join, resolve } from 'node:path';
import type { EvalConfig } from '../config.js';

export class NotWatchable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NotWatchable';
  }
}

/** The local directory of a flake reference, or undefined when it is not local. */
export function localFlakeDirectory(ref: string, workdir: string): string | undefined {
  const bare = ref.split('#', 1)[0]!;
  const withoutQuery = bare.split('?', 1)[0]!;
  const path = withoutQuery.replace(/^(path:|git\+file:\/\/|file:\/\/)/, '');
  if (path !== withoutQuery || path.startsWith('.') || isAbsolute(path)) return resolve(workdir, path === '' ? '.' : path);
  return undefined;
}

export async function watchedPaths(config: EvalConfig): Promise<string[]> {
  switch (config.input.kind) {
    case 'file':
      return [dirname(resolve(config.workdir, config.input.path))];
    case 'expr':
      throw new NotWatchable('watch needs a file or a local flake (--file or --flake): an expression has no files to watch');
    case 'flake': {
      const root = localFlakeDirectory(config.input.ref, config.workdir);
      if (!root) throw new NotWatchable(`watch needs a flake on this machine, not '${config.input.ref}'`);
      const paths = [root];
      try {
        const lock = JSON.parse(await readFile(join(root, 'flake.lock'), 'utf8')) as { nodes?: Record<string, { locked?: { type?: string; path?: string } }> };
        for (const node of Object.values(lock.nodes ?? {})) {
          if (node.locked?.type === 'path' && node.locked.path) paths.push(resolve(root, node.locked.path));
        }
      } catch {
        // No lock yet: the first evaluation writes it, and the root is watched.
      }
      return paths;
    }
  }
}
