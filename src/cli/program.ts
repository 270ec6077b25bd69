/** The evix program: one subcommand a file. */
import { Command } from 'commander';
import { daemonCommand } from './daemon.js';
import { diffCommand } from './diff.js';
import { evalCommand } from './eval.js';
import { withLogOptionsAnywhere } from './logging.js';
import { queryCommand } from './query.js';
import { quiet, runProgram } from './run.js';
import { packageVersion } from './version.js';
import { watchCommand } from './watch.js';
import { workerCommand } from './worker.js';

const program = quiet(
  withLogOptionsAnywhere(
    new Command('evix').description('evaluate Nix attribute sets in parallel and stream every derivation as JSON lines').version(packageVersion(), '-V, --version', "print evix's version"),
  ),
);
for (const command of [evalCommand(), workerCommand(), daemonCommand(), queryCommand(), diffCommand(), watchCommand()]) program.addCommand(quiet(command));

await runProgram(program, process.argv.slice(2));
