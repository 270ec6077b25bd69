/** -v/-q/--log-format, the same on every command. */
import type { Command } from 'commander';
import type { LogFormat, LogLevel, Logger } from '../log.js';
import { UsageError } from './argv.js';

export interface LogFlags {
  verbose: number;
  quiet?: boolean;
  logFormat?: string;
}

const VERBOSE_HELP = 'log more on stderr (repeat for more)';
const QUIET_HELP = 'log only errors on stderr';
const increment = (_value: string, count: number) => count + 1;

export function withLogOptions(command: Command): Command {
  return command
    .option('-v, --verbose', VERBOSE_HELP, increment, 0)
    .option('-q, --quiet', QUIET_HELP)
    .option('--log-format <format>', 'text: a line per message, for people (the default); json: pino JSON lines, for machines');
}

/**
 * -v and -q anywhere on the line, before the command too (`evix -v eval
 * …`): commander gives a program's options to the program wherever they
 * stand, so the program takes them and adds them to the command that runs.
 */
export function withLogOptionsAnywhere(program: Command): Command {
  return program
    .option('-v, --verbose', VERBOSE_HELP, increment, 0)
    .option('-q, --quiet', QUIET_HELP)
    .hook('preAction', (root, command) => {
      const { verbose, quiet } = root.opts<Partial<LogFlags>>();
      command.setOptionValue('verbose', ((command.getOptionValue('verbose') as number | undefined) ?? 0) + (verbose ?? 0));
      if (quiet) command.setOptionValue('quiet', true);
    });
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
