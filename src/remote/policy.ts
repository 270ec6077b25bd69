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
 */
import { dirname } from 'node:path';
import type { WorkerConfig } from '../config.js';

export const DEFAULT_ALLOWED_OPTIONS: readonly string[] = [
  'allow-import-from-derivation',
  'restrict-eval',
  'pure-eval',
  'system',
  'extra-platforms',
  'max-call-depth',
  'warn-dirty',
];

export interface WorkerPolicy {
  allowImpure: boolean;
  allowedOptions: ReadonlySet<string>;
}

export function applyPolicy(config: WorkerConfig, policy: WorkerPolicy): { config: WorkerConfig } | { refusal: string } {
  if (config.impure && !policy.allowImpure) return { refusal: 'this worker refuses impure evaluation (start it with --allow-impure)' };
  const refused = config.nixOptions.find(([key]) => !policy.allowedOptions.has(key));
  if (refused) return { refusal: `this worker does not accept --option ${refused[0]} (allowed: ${[...policy.allowedOptions].join(', ')})` };
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
