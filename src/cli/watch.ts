/** `evix watch`: evaluate, then print a diff each time the input's files change. */
import { Command } from 'commander';
import { summarizeNixError } from '../nix/commands.js';
import { NotWatchable } from '../session/watched-paths.js';
import { UsageError } from './argv.js';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './config-options.js';
import { loggerFor, withLogOptions, type LogFlags } from './logging.js';
import { positiveInteger } from './numbers.js';
import { runWithSignals } from './signals.js';

interface WatchFlags extends ConfigFlags, LogFlags {
  workers: string;
  debounce: string;
}

export function watchCommand(): Command {
  return withConfigOptions(withLogOptions(new Command('watch')))
    .description('evaluate, then re-evaluate on every change to the file or local flake and print {added, removed, changed, errors} as one JSON line')
    .option('--workers <n>', 'local workers', '1')
    .option('--debounce <ms>', 'wait this long after a change for more changes', '200')
    .action(async (flags: WatchFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const [log, { Session }] = await Promise.all([loggerFor(flags), import('../session/session.js')]);
      const session = await Session.open(config, { workers: positiveInteger('--workers', flags.workers, 1), log });
      await runWithSignals(async (signal) => {
        try {
          for await (const update of session.watch({ debounceMs: positiveInteger('--debounce', flags.debounce, 0), signal })) {
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
