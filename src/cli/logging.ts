/** -v/-q/--log-format, the same on every command. */
import type { Command } from 'commander';
import type { LogFormat, LogLevel, Logger } from '../log.js';
import { UsageError } from './argv.js';

export interface LogFlags {
  verbose: number;
  quiet?: boolean;
  logFormat?: string;
}

export function withLogOptions(command: Command): Command {
  return command
    .option('-v, --verbose', 'log more on stderr (repeat for more)', (_v: string, n: number) => n + 1, 0)
    .option('-q, --quiet', 'log only errors on stderr')
    .option('--log-format <format>', 'text: a line per message, for people (the default); json: pino JSON lines, for machines');
}

export function logLevelOf(flags: LogFlags): LogLevel {
  if (flags.quiet) return 'error';
  return (['warn', 'info', 'debug', 'trace'] as const)[Math.min(flags.verbose, 3)]!;
}

export function logFormatOf(flags: LogFlags): LogFormat {
  const format = flags.logFormat ?? 'text';
  if (format !== 'text' && format !== 'json') throw new UsageError(`--log-format must be text or json, not '${format}'`);
  return format;
}

/**
 * The logger the flags ask for; the logging module is loaded only here. A
 * bad --log-format throws at once, before the command starts anything.
 */
export function loggerFor(flags: LogFlags): Promise<Logger> {
  const level = logLevelOf(flags);
  const format = logFormatOf(flags);
  return import('../log.js').then(({ createLogger }) => createLogger(level, format));
}
