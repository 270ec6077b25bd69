/** How the command line reports the end of a run: one line on stderr and the exit status. */
import type { RunResult } from '../master/run.js';
import { summarizeNixError } from '../nix/commands.js';

export const EXIT_FATAL = 1;
export const EXIT_USAGE = 2;

export function fail(status: number, message: string): void {
  process.stderr.write(`evix: ${message}\n`);
  process.exitCode = status;
}

/** A fatal run exits 1 with Nix's message on one line; an interrupted one keeps its signal status. */
export function reportRun(result: RunResult): void {
  if (result.fatal !== undefined && process.exitCode === undefined) fail(EXIT_FATAL, summarizeNixError(result.fatal.message));
}
