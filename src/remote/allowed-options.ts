/**
 * The Nix options a worker accepts from any master (`--option KEY`);
 * `evix worker --allow-option` adds others, and src/remote/policy.ts
 * applies them. Its own module so that the CLI, which names them in its
 * help, does not load the policy's store-path hashing and node:crypto at
 * every start (21 ms here).
 */
export const DEFAULT_ALLOWED_OPTIONS: readonly string[] = [
  'allow-import-from-derivation',
  'restrict-eval',
  'pure-eval',
  'system',
  'extra-platforms',
  'max-call-depth',
  'warn-dirty',
];
