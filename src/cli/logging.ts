/** -v/-q, the same on every command. */
import type { Command } from 'commander';
import type { LogLevel } from '../log.js';

export interface LogFlags {
  verbose: number;
  quiet?: boolean;
}

export function withLogOptions(command: Command): Command {
  return command
    .option('-v, --verbose', 'log more on stderr (repeat for more)', (_v: string, n: number) => n + 1, 0)
    .option('-q, --quiet', 'log only errors on stderr');
}

export function logLevelOf(flags: LogFlags): LogLevel {
  if (flags.quiet) return 'error';
  return (['warn', 'info', 'debug', 'trace'] as const)[Math.min(flags.verbose, 3)]!;
}
