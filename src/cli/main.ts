#!/usr/bin/env node
/**
 * The evix command line. Exit status: 0 after a complete run (attribute
 * errors included), 1 on a fatal error, 2 on a usage error. Errors are one
 * line on stderr; stdout carries only events.
 */
import { Command, CommanderError } from 'commander';
import { InputError } from '../resolve.js';
import { UsageError, joinOptionValues } from './argv.js';
import { EVAL_MULTI_VALUE_OPTIONS, evalCommand } from './eval.js';
import { workerCommand } from './worker.js';
import { EXIT_FATAL, EXIT_USAGE, fail } from './report.js';

function program(): Command {
  const root = new Command('evix')
    .description('evaluate Nix attribute sets in parallel and stream every derivation as JSON lines')
    .exitOverride()
    .configureOutput({ outputError: () => {} });
  for (const command of [evalCommand(), workerCommand()]) {
    command.exitOverride().configureOutput({ outputError: () => {} });
    root.addCommand(command);
  }
  return root;
}

async function main(argv: string[]): Promise<void> {
  try {
    await program().parseAsync(joinOptionValues(argv, EVAL_MULTI_VALUE_OPTIONS), { from: 'user' });
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.exitCode === 0) return;
      return fail(EXIT_USAGE, error.message.replace(/^error: /, ''));
    }
    if (error instanceof UsageError) return fail(EXIT_USAGE, error.message);
    if (error instanceof InputError) return fail(EXIT_FATAL, error.message);
    return fail(EXIT_FATAL, (error as Error).message);
  }
}

await main(process.argv.slice(2));
