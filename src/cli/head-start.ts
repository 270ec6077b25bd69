/**
 * Nix commands started before the program loads. A cache hit is mostly Node
 * loading evix (about 50 ms here) and two short Nix commands (about 20 ms
 * each); started here, they run while commander and the commands load.
 *
 * A guess from the raw arguments, before any parsing, for the plain case
 * (`evix eval --flake REF`, no Nix options or input overrides). It cannot
 * change a result: a later run of the same command line in the same
 * directory takes the early one's output, any other runs as usual, and one
 * never taken is only a short Nix command wasted.
 */
import { startLockingEarly } from '../nix/flake.js';
import { startNixIdentity } from '../nix/identity.js';

export interface EarlyCommands {
  /** The flake reference to lock. */
  lock?: string;
  /** Whether to ask Nix for its identity: the cache key needs it (see prepareRun), and a flake's evaluators their dialect (see dialect.ts). */
  identity: boolean;
}

export function earlyCommandsFor(argv: readonly string[]): EarlyCommands {
  if (argv[0] !== 'eval' || argv.includes('--option') || argv.includes('--override-input')) return { identity: false };
  const flake = flakeArgument(argv);
  if (flake === undefined) return { identity: false };
  return { lock: flake, identity: true };
}

export function startEarlyCommands(argv: readonly string[]): void {
  const early = earlyCommandsFor(argv);
  if (early.lock !== undefined) startLockingEarly(early.lock, { cwd: process.cwd(), nixOptions: [], overrideInputs: [] });
  if (early.identity) startNixIdentity();
}

function flakeArgument(argv: readonly string[]): string | undefined {
  const at = argv.indexOf('--flake');
  if (at !== -1) return argv[at + 1];
  return argv.find((arg) => arg.startsWith('--flake='))?.slice('--flake='.length);
}
