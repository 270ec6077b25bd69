/**
 * What a worker serving the network agrees to evaluate. Pure: a config in,
 * the config to run or a refusal out.
 *
 * - `--impure` evaluation only when the worker was started with --allow-impure.
 * - A file or expression input is impure in Nix (it may read any file, the
 *   environment); without --allow-impure it is evaluated in restricted mode,
 *   with the input file's directory and the -I entries readable and nothing
 *   else. Flakes are restricted already (see replArgs).
 * - `--option` only for keys on an allowlist: options such as `builders`,
 *   `substituters` or `allowed-uris` would let a master make the worker run
 *   or fetch things.
 * - The input names no host path: a file, each local -I entry and each
 *   node of a flake's lock graph must be a shipped source (or inside one),
 *   and each shipped source's store path must be the one its NAR hash
 *   gives. So a master reads nothing of the worker's host it did not send.
 */
import { dirname, posix } from 'node:path';
import type { StoreSource, WorkerConfig } from '../config.js';
import { parseSha256, sourceStorePath, storePathName } from '../nix/store-path.js';
import { splitIncludeEntry } from '../nix/syntax.js';

export interface WorkerPolicy {
  allowImpure: boolean;
  allowedOptions: ReadonlySet<string>;
}

export function applyPolicy(config: WorkerConfig, policy: WorkerPolicy): { config: WorkerConfig } | { refusal: string } {
  if (config.impure && !policy.allowImpure) return { refusal: 'this worker refuses impure evaluation (start it with --allow-impure)' };
  const refused = config.nixOptions.find(([key]) => !policy.allowedOptions.has(key));
  if (refused) return { refusal: `this worker does not accept --option ${refused[0]} (allowed: ${[...policy.allowedOptions].join(', ')})` };
  const unshipped = unshippedPath(config);
  if (unshipped !== undefined) return { refusal: unshipped };
  if (policy.allowImpure || config.input.kind === 'flake') return { config };
  const readable = config.input.kind === 'file' ? [`evix-input=${dirname(config.input.path)}`] : [];
  return {
    config: {
      ...config,
      includePaths: [...config.includePaths, ...readable],
      nixOptions: [...config.nixOptions, ['restrict-eval', 'true']],
    },
  };
}

/** Why the config names something other than its shipped sources, if it does. */
function unshippedPath(config: WorkerConfig): string | undefined {
  const sources = config.sources ?? [];
  const bad = sources.find((s) => !isContentAddressed(s));
  if (bad) return `the shipped source ${bad.storePath} is not the store path its NAR hash gives`;
  const shipped = (path: string) => posix.normalize(path) === path && sources.some((s) => path === s.storePath || path.startsWith(`${s.storePath}/`));
  const { input } = config;
  if (input.kind === 'file' && !shipped(input.path)) return `the input file ${input.path} was not shipped: this worker reads only what the master sends`;
  for (const entry of config.includePaths) {
    const { value, url } = splitIncludeEntry(entry);
    if (!url && !shipped(value)) return `the -I entry ${entry} was not shipped: this worker reads only what the master sends`;
  }
  if (input.kind === 'flake') {
    const lock = lockedSources(input.lockJson);
    if (!lock?.every(shipped)) return `the flake ${input.lockedUrl} was not shipped with its inputs: this worker reads only what the master sends`;
  }
  return undefined;
}

function isContentAddressed(source: StoreSource): boolean {
  const digest = parseSha256(source.narHash);
  const name = storePathName(source.storePath);
  return digest !== undefined && name !== undefined && sourceStorePath(digest, name) === source.storePath;
}

/** The path of every locked node of a shipped lock (see ship-sources.ts); undefined if any is not a path input. */
function lockedSources(lockJson: string): string[] | undefined {
  try {
    const { root, locks } = JSON.parse(lockJson) as { root: unknown; locks: { nodes: Record<string, { locked?: unknown }> } };
    const locked = [root, ...Object.values(locks.nodes).flatMap((node) => (node.locked === undefined ? [] : [node.locked]))];
    const paths = locked.map((l) => (typeof l === 'object' && l !== null && (l as { type?: unknown }).type === 'path' ? (l as { path?: unknown }).path : undefined));
    return paths.every((p): p is string => typeof p === 'string') ? paths : undefined;
  } catch {
    return undefined;
  }
}
