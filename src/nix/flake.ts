/**
 * Locking a flake once in the master. Workers get the locked reference, so
 * every worker evaluates exactly the same inputs even if the flake or a
 * registry changes during the run.
 */
import type { ResolvedInput } from '../config.js';
import { FLAKE_FEATURES, NixCommandError, runNix, startNixEarly } from './commands.js';
import { parseAttrPath } from './syntax.js';

interface FlakeMetadata {
  url: string;
  locked: Record<string, unknown>;
  locks: unknown;
}

export interface LockOptions {
  cwd: string;
  overrideInputs: ReadonlyArray<[string, string]>;
  nixOptions: ReadonlyArray<[string, string]>;
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
  const locked = metadata.locked as { narHash?: string; rev?: string };
  const pin = locked.narHash !== undefined || locked.rev !== undefined ? { locked: metadata.locked, locks: metadata.locks } : undefined;
  if (options.overrideInputs.length === 0) return { input: { kind: 'flake', lockedUrl: metadata.url, attrPath }, ...(pin ? { pin } : {}) };
  // getFlake reads the flake's own lock file, which knows nothing of the
  // overrides: hand the workers the overridden lock itself.
  return {
    input: { kind: 'flake', lockedUrl: metadata.url, attrPath, overriddenLock: JSON.stringify({ root: metadata.locked, locks: metadata.locks }) },
    ...(pin ? { pin } : {}),
  };
}

export function splitFlakeReference(refWithFragment: string): { ref: string; fragment: string } {
  const hash = refWithFragment.indexOf('#');
  return hash === -1 ? { ref: refWithFragment, fragment: '' } : { ref: refWithFragment.slice(0, hash), fragment: refWithFragment.slice(hash + 1) };
}

/** The `nix flake metadata` command line that locks REF. */
export function flakeMetadataArgs(ref: string, options: Omit<LockOptions, 'cwd'>): string[] {
  const args = [...FLAKE_FEATURES, 'flake', 'metadata', '--json'];
  for (const [key, value] of options.nixOptions) args.push('--option', key, value);
  for (const [name, to] of options.overrideInputs) args.push('--override-input', name, to);
  args.push(ref);
  return args;
}
