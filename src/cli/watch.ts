/** `evix watch`: evaluate, then print a diff each time the input's files change. */
import { Command } from 'commander';
import { summarizeNixError } from '../nix/commands.js';
import { NotWatchable } from '../session/watched-paths.js';
import { UsageError } from './argv.js';
import { configFromFlags } from './config-options.js';
import { loggerFor } from './logging.js';
import { positiveInteger } from './numbers.js';
import { withExample } from './run.js';
import { localWorkers, withEvaluationOptions, type RunFlags } from './run-options.js';
import { runWithSignals } from './signals.js';
import { watchUpdates } from './through-daemon.js';

interface WatchFlags extends RunFlags {
  debounce: string;
}

export function watchCommand(): Command {
  const command = withExample(withEvaluationOptions(new Command('watch')), 'evix watch --flake .#hydraJobs --workers 2');
  // An expression has no files to watch: watch refuses it, so its help leaves it out.
  command.options.find((option) => option.long === '--expr')?.hideHelp();
  return command
    .description('evaluate, then again on every change to the file or local flake, printing what changed (added, removed, changed, errors) as one JSON line')
    .option('--debounce <ms>', 'wait this long after a change for more changes', '200')
    .action(async (flags: WatchFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const debounceMs = positiveInteger('--debounce', flags.debounce, 0);
      await runWithSignals(async (signal) => {
        try {
          for await (const update of await watchUpdates(flags, config, localWorkers(flags), loggerFor(flags), { debounceMs, signal })) {
            const line = 'error' in update ? { error: summarizeNixError(update.error) } : update.diff;
            process.stdout.write(`${JSON.stringify(line)}\n`);
          }
        } catch (error) {
          if (error instanceof NotWatchable) throw new UsageError(error.message);
          throw error;
        }
      });
    });
}
