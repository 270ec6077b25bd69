/**
 * The Nix commands a run starts with: resolving the input (locking a flake,
 * checking that expressions parse) and, when the evaluation cache may answer
 * the run, asking Nix for its version and system, which cached results
 * depend on.
 *
 * Apart from evaluate() so that a caller can start them before loading the
 * rest of evix: the CLI does, because a cache hit is mostly these commands
 * and Node loading the program, and the two then overlap.
 */
import { awaitedLater } from './awaited-later.js';
import type { EvalConfig } from './config.js';
import { nixIdentity, type NixIdentity } from './nix/identity.js';
import { resolveConfig, type Resolved } from './resolve.js';

export interface PreparedRun {
  resolved: Resolved;
  /** Present when the evaluation cache may keep the run. */
  nix?: NixIdentity;
}

export async function prepareRun(config: EvalConfig, useCache: boolean): Promise<PreparedRun> {
  // Only hermetic inputs are cached: flakes evaluated purely (evaluate() also needs the lock to pin them).
  const nix = useCache && config.input.kind === 'flake' && !config.impure ? awaitedLater(nixIdentity()) : undefined;
  const resolved = await resolveConfig(config);
  return nix ? { resolved, nix: await nix } : { resolved };
}
