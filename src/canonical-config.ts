/**
 * A config in the one spelling its keys are made of (the daemon's sessions,
 * the evaluation cache): two spellings of one input are one session and one
 * cache entry. The input is resolved against the config's working directory
 * (the client's, not the daemon's), as Nix and resolveConfig resolve it; the
 * config itself is left as the user wrote it, so messages name what they
 * gave.
 */
import { resolve } from 'node:path';
import type { EvalConfig, EvalInput } from './config.js';
import { canonicalFlakeRef } from './nix/flake-ref.js';

export function canonicalConfig(config: EvalConfig): EvalConfig {
  return { ...config, input: canonicalInput(config.input, config.workdir) };
}

function canonicalInput(input: EvalInput, workdir: string): EvalInput {
  switch (input.kind) {
    case 'file':
      return { kind: 'file', path: resolve(workdir, input.path) };
    case 'flake':
      return { kind: 'flake', ref: canonicalFlakeRef(input.ref, workdir) };
    case 'expr':
      return input;
  }
}
