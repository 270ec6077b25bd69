/**
 * Running a commander program the evix way: exit status 0 after a complete
 * run (attribute errors included), 1 on a fatal error, 2 on a usage error;
 * errors are one line on stderr, never a stack trace.
 */
import { CommanderError, type Command } from 'commander';
import { UsageError, joinOptionValues } from './argv.js';
import { MULTI_VALUE_OPTIONS } from './config-options.js';
import { EXIT_FATAL, EXIT_USAGE, fail } from './report.js';
import { quietOnClosedStdout } from './signals.js';

/** Makes a command (and its subcommands) report instead of exiting. */
export function quiet(command: Command): Command {
  return command.exitOverride().configureOutput({ outputError: () => {} });
}

/** Adds a usage example to a command's help. */
export function withExample(command: Command, example: string): Command {
  return command.addHelpText('after', `\nExample:\n  ${example}\n`);
}

export async function runProgram(program: Command, argv: string[]): Promise<void> {
  quietOnClosedStdout();
  try {
    // commander's `help NAME` prints the program's help for a NAME it does not know.
    if (argv[0] === 'help' && argv[1] !== undefined && !program.commands.some((c) => c.name() === argv[1])) throw new UsageError(`unknown command '${argv[1]}'`);
    await program.parseAsync(joinOptionValues(argv, MULTI_VALUE_OPTIONS), { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return;
      // No command given: commander has printed the help already.
      if (error.code === 'commander.help') {
        process.exitCode = EXIT_USAGE;
        return;
      }
      return fail(EXIT_USAGE, error.message.replace(/^error: /, ''));
    }
    if (error instanceof UsageError) return fail(EXIT_USAGE, error.message);
    return fail(EXIT_FATAL, (error as Error).message);
  }
}
