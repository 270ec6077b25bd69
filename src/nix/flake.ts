/**
 * Locking a flake once in the master. Workers get the locked reference, so
 * every worker evaluates exactly the same inputs even if the flake or a
 * registry changes during the run.
 */
import { readFile } from 'node:fs/promises';
import type { ResolvedInput } from '../config.js';
import { FLAKE_FEATURES, NixCommandError, runNix, startNixEarly } from './commands.js';
import { splitFlakeReference } from './flake-ref.js';
import { storePathInput } from './locked-input.js';
import { parseAttrPath } from './syntax.js';

interface FlakeMetadata {
  url: string;
  /** Where the flake's source is in the store. */
  path: string;
  locked: Record<string, unknown>;
  locks: unknown;
}

export interface LockOptions {
  cwd: string;
  overrideInputs: ReadonlyArray<[string, string]>;
  nixOptions: ReadonlyArray<[string, string]>;
  /** Registry entries redirected (`--override-flake FROM TO`). */
  overrideFlakes?: ReadonlyArray<[string, string]>;
  /** A lock file whose inputs replace those of the flake's own flake.lock. */
  referenceLockFile?: string;
}

export interface LockedFlake {
  input: ResolvedInput & { kind: 'flake' };
  /**
   * What pins the flake's content, when something does (a narHash or a
   * revision): its locked reference and whole lock graph. Absent for an
   * unpinned (dirty, hashless) tree, which is then not hermetic.
   */
  pin?: { locked: unknown; locks: unknown };
}

/** Starts the command lockFlake() will run with these arguments (see startNixEarly). */
export function startLockingEarly(refWithFragment: string, options: LockOptions): void {
  startNixEarly('nix', flakeMetadataArgs(splitFlakeReference(refWithFragment).ref, options), { cwd: options.cwd });
}

/** Splits `ref#attr.path` and locks the reference with `nix flake metadata`. */
export async function lockFlake(refWithFragment: string, options: LockOptions): Promise<LockedFlake> {
  const { ref, fragment } = splitFlakeReference(refWithFragment);
  const attrPath = parseAttrPath(fragment);
  if (!Array.isArray(attrPath)) throw new NixCommandError(`bad flake reference '${refWithFragment}': ${attrPath.error}`);
  if (ref === '') throw new NixCommandError(`bad flake reference '${refWithFragment}': no flake before '#'`);

  const args = flakeMetadataArgs(ref, options);
  let metadata: FlakeMetadata;
  try {
    metadata = JSON.parse(await runNix('nix', args, { cwd: options.cwd })) as FlakeMetadata;
  } catch (error) {
    if (error instanceof NixCommandError) throw new NixCommandError(`cannot lock flake '${ref}': ${error.message}`);
    throw error;
  }
  if (options.referenceLockFile !== undefined) {
    if (options.overrideInputs.length > 0) throw new NixCommandError('--reference-lock-file cannot be combined with --override-input');
    metadata.locks = await readLockFile(options.referenceLockFile);
  }
  const locked = metadata.locked as { narHash?: string; rev?: string };
  const pin = locked.narHash !== undefined || locked.rev !== undefined ? { locked: metadata.locked, locks: metadata.locks } : undefined;
  const lock = { sourcePath: metadata.path, root: metadata.locked, locks: metadata.locks };
  // Workers evaluate the lock graph as locked here (callLocked), the root as
  // the store path locking made, rather than getFlake, which locks again:
  // it reads the flake's own lock file (which knows nothing of overrides or
  // a reference lock), newer Nix refuses it an unlocked (dirty) tree in
  // pure mode, and Nix 2.34 writes a path flake's new lock file into it and
  // then finds the hash it locked no longer matches.
  const { locked: root, shippedInfo } = storePathInput(metadata.locked, metadata.path);
  return {
    input: { kind: 'flake', lockedUrl: metadata.url, attrPath, lockJson: JSON.stringify({ root, shippedInfo, locks: metadata.locks }), lock },
    ...(pin ? { pin } : {}),
  };
}

/** A flake.lock's lock graph (Nix 2.8 has no --reference-lock-file: evix reads it and gives workers the graph). */
async function readLockFile(path: string): Promise<unknown> {
  try {
    const lock = JSON.parse(await readFile(path, 'utf8')) as { nodes?: unknown; root?: unknown };
    if (typeof lock.nodes !== 'object' || typeof lock.root !== 'string') throw new Error('not a flake lock file');
    return lock;
  } catch (error) {
    throw new NixCommandError(`cannot read the lock file '${path}': ${(error as Error).message}`);
  }
}

/** The `nix flake metadata` command line that locks REF. */
export function flakeMetadataArgs(ref: string, options: Omit<LockOptions, 'cwd'>): string[] {
  const args = [...FLAKE_FEATURES, 'flake', 'metadata', '--json'];
  for (const [key, value] of options.nixOptions) args.push('--option', key, value);
  for (const [name, to] of options.overrideInputs) args.push('--override-input', name, to);
  for (const [from, to] of options.overrideFlakes ?? []) args.push('--override-flake', from, to);
  args.push(ref);
  return args;
}
