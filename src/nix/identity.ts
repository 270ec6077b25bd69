/**
 * Nix's version and the system it evaluates for: besides the input and the
 * config, what cached evaluation results depend on. The CLI may ask before
 * the program has loaded (see src/cli/head-start.ts).
 */
import { runNix, startNixEarly } from './commands.js';

export interface NixIdentity {
  nixVersion: string;
  system: string;
}

// The answer depends on the environment and nix.conf, not on a directory.
const ASK: [string, string[], { cwd: string }] = ['nix-instantiate', ['--eval', '--strict', '--json', '--expr', '[ builtins.nixVersion builtins.currentSystem ]'], { cwd: '/' }];

export function startNixIdentity(): void {
  startNixEarly(...ASK);
}

let asked: Promise<NixIdentity> | undefined;

/** Asked once per process: the cache key and the evaluators' dialect (see dialect.ts) share the answer. */
export function nixIdentity(): Promise<NixIdentity> {
  asked ??= runNix(...ASK).then((output) => {
    const [nixVersion, system] = JSON.parse(output) as [string, string];
    return { nixVersion, system };
  });
  return asked;
}
