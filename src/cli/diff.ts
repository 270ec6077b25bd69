/** `evix diff`: evaluate again and print what changed against the daemon's warm graph. */
import { Command } from 'commander';
import { configFromFlags, withConfigOptions, type ConfigFlags } from './config-options.js';
import { positiveInteger } from './numbers.js';
import { askDaemon, type GraphDiff } from './through-daemon.js';

interface DiffFlags extends ConfigFlags {
  workers: string;
}

export function diffCommand(): Command {
  return withConfigOptions(new Command('diff'))
    .description('re-evaluate in the daemon and print {added, removed, changed, errors} against its warm graph, which the new one replaces')
    .option('--workers <n>', 'local workers of the daemon for this walk', '1')
    .action(async (flags: DiffFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const diff = await askDaemon({ op: 'diff', config, workers: positiveInteger('--workers', flags.workers, 1) }, (r) => r.diff as GraphDiff | undefined);
      process.stdout.write(`${JSON.stringify(diff)}\n`);
    });
}
