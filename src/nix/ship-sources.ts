/**
 * What a remote worker is shipped: every store path the evaluation starts
 * from, and the input rewritten to name only those.
 *
 * - A flake: its own source and every locked input, each fetched into the
 *   master's store. Each node of the lock graph is rewritten to a `path`
 *   input on its store path, and the worker evaluates the lock graph as
 *   given (`callLocked`) instead of locking anything itself. A path input
 *   cannot carry the rest of what a node's `sourceInfo` shows (Nix sets a
 *   store path's lastModified to 0 and refuses any other), so that travels
 *   beside it (`shippedInfo`) and callLocked lays it over what fetchTree
 *   gives: `self.rev`, `lastModifiedDate` and the like read as on the
 *   master.
 * - A file: its directory, as `nix-store --add` would add it (hashed
 *   here, read from where it is, not added to this store), and the file
 *   named inside it. A path literal for that directory itself
 *   (`./.`) is then a store path, which Nix copies again under another
 *   name: the one difference from a local run (see docs/protocol.md).
 * - `-I` entries that are local paths (for a file or an expression), the
 *   same way; URLs stay as they are.
 *
 * Every source is content-addressed: its store path follows from its NAR
 * hash and name, which is what lets a worker check what it is sent.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { basename, dirname, resolve } from 'node:path';
import type { FlakeLock, StoreSource, WorkerConfig } from '../config.js';
import { FLAKE_FEATURES, NixCommandError, runNix } from './commands.js';
import { nixEnvironment } from './environment.js';
import { storePathInput } from './locked-input.js';
import { narOfLocalPath } from './nar.js';
import { parsePathInfo } from './path-info.js';
import { nixString, splitIncludeEntry } from './syntax.js';
import { parseSha256, sourceStorePath, sriSha256, storePathName } from './store-path.js';

interface LockFile {
  root: string;
  nodes: Record<string, { locked?: Record<string, unknown> } & Record<string, unknown>>;
}

/** The config a remote worker gets: the input naming only shipped store paths, and those paths. */
export async function shippedConfig(config: WorkerConfig): Promise<WorkerConfig> {
  const { input } = config;
  if (input.kind === 'flake') {
    if (!input.lock) throw new NixCommandError('cannot ship the flake: it was not locked by this master');
    const { lockJson, sources } = await shippedLock(input.lock, config.workdir);
    const { lock: _lock, ...rest } = input;
    return { ...config, input: { ...rest, lockJson }, sources };
  }
  const includes = config.includePaths.map((entry) => {
    const { prefix, value, url } = splitIncludeEntry(entry);
    return { entry, prefix, ...(url ? {} : { path: resolve(config.workdir, value) }) };
  });
  const local = [...new Set([...(input.kind === 'file' ? [dirname(input.path)] : []), ...includes.flatMap((i) => (i.path ? [i.path] : []))])];
  const sources = await Promise.all(local.map(describeLocal));
  const storeOf = new Map(local.map((path, i) => [path, sources[i]!.storePath]));
  const includePaths = includes.map((i) => (i.path ? `${i.prefix}${storeOf.get(i.path)!}` : i.entry));
  const shippedInput = input.kind === 'file' ? { kind: 'file' as const, path: `${storeOf.get(dirname(input.path))!}/${basename(input.path)}` } : input;
  return { ...config, input: shippedInput, includePaths, sources };
}

/**
 * The lock graph with every node on its store path, fetched into this
 * store first (locking may leave inputs unfetched), as JSON in the form
 * `callLocked` reads.
 */
async function shippedLock(lock: FlakeLock, workdir: string): Promise<{ lockJson: string; sources: StoreSource[] }> {
  const graph = lock.locks as LockFile;
  const inputs = Object.entries(graph.nodes).filter(([key, node]) => key !== graph.root && node.locked !== undefined);
  const fetched = inputs.length === 0 ? {} : await fetchLocked(Object.fromEntries(inputs.map(([key, node]) => [key, node.locked!])), workdir);
  const sources = await describeSources([...new Set([lock.sourcePath, ...Object.values(fetched)])], workdir);
  const narHashOf = new Map(sources.map((s) => [s.storePath, s.narHash]));
  const nodes = Object.fromEntries(
    Object.entries(graph.nodes).map(([key, node]) => {
      const storePath = fetched[key];
      return [key, storePath === undefined ? node : { ...node, ...storePathInput(node.locked!, storePath, narHashOf.get(storePath)) }];
    }),
  );
  const { locked: root, shippedInfo } = storePathInput(lock.root, lock.sourcePath, narHashOf.get(lock.sourcePath));
  return { lockJson: JSON.stringify({ root, shippedInfo, locks: { ...graph, nodes } }), sources };
}

/** Fetches locked inputs into the store, all in one `nix eval`: their store paths by node. */
async function fetchLocked(locked: Record<string, Record<string, unknown>>, workdir: string): Promise<Record<string, string>> {
  const expr = `builtins.mapAttrs (key: locked: (builtins.fetchTree (builtins.removeAttrs locked [ "dir" ])).outPath) (builtins.fromJSON ${nixString(JSON.stringify(locked))})`;
  try {
    return JSON.parse(await runNix('nix', [...FLAKE_FEATURES, 'eval', '--json', '--expr', expr], { cwd: workdir })) as Record<string, string>;
  } catch (error) {
    throw new NixCommandError(`cannot fetch the flake's inputs to ship them: ${(error as Error).message}`);
  }
}

/**
 * A local path as the source `nix-store --add` would make of it, without
 * adding it to this store (which would also copy whatever else the
 * directory holds where every user can read it): its NAR, written and
 * hashed here.
 */
async function describeLocal(path: string): Promise<StoreSource> {
  const hash = createHash('sha256');
  let narSize = 0;
  for (const chunk of narOfLocalPath(path)) {
    hash.update(chunk);
    narSize += chunk.length;
  }
  const digest = hash.digest();
  const storePath = sourceStorePath(digest, basename(path));
  if (storePathName(storePath) === undefined) throw new NixCommandError(`cannot ship ${path}: '${basename(path)}' is not a name the Nix store allows`);
  return { storePath, narHash: sriSha256(digest), narSize, readFrom: path };
}

/** Each path's NAR hash and size (`nix path-info`), checked to be a content-addressed source. */
async function describeSources(paths: string[], workdir: string): Promise<StoreSource[]> {
  const infos = parsePathInfo(await runNix('nix', [...FLAKE_FEATURES, 'path-info', '--json', ...paths], { cwd: workdir }));
  return paths.map((path) => {
    const info = infos.get(path);
    if (!info) throw new NixCommandError(`cannot ship ${path}: it is not in this store`);
    const { narHash, narSize } = info;
    const digest = parseSha256(narHash);
    const name = storePathName(path);
    if (!digest || name === undefined || sourceStorePath(digest, name) !== path) {
      throw new NixCommandError(`cannot ship ${path}: it is not a source added whole to the store`);
    }
    return { storePath: path, narHash: sriSha256(digest), narSize };
  });
}

/** The NAR serialisation of a store path (`nix-store --dump`), as it is produced. */
export async function* narOf(path: string): AsyncGenerator<Buffer> {
  const child = spawn('nix-store', ['--dump', path], { env: nixEnvironment(), stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  const exited = new Promise<number | null>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', resolve);
  });
  try {
    for await (const chunk of child.stdout) yield chunk as Buffer;
    const code = await exited;
    if (code !== 0) throw new NixCommandError(`cannot read ${path}: ${stderr.trim().split('\n').at(-1) ?? `nix-store exited ${code}`}`);
  } finally {
    child.kill();
  }
}
