/** `evix query`: look derivations up in a warm session of the daemon. */
import { Command } from 'commander';
import type { EvalEvent } from '../events.js';
import { collect, configFromFlags } from './config-options.js';
import { loggerFor } from './logging.js';
import { withExample } from './run.js';
import { withEvaluationOptions, type RunFlags } from './run-options.js';
import { askDaemon } from './through-daemon.js';

interface QueryFlags extends RunFlags {
  system?: string[];
  attrPrefix?: string[];
}

export function queryCommand(): Command {
  return withExample(withEvaluationOptions(new Command('query')), "evix query --flake .#hydraJobs --system aarch64-linux --attr-prefix 'python3Packages.*'")
    .description('print the derivations and errors of a warm daemon session (the same flags as eval) that pass the filters')
    .option('--system <system>', 'only derivations for SYSTEM (repeatable)', collect)
    .option('--attr-prefix <attr>', 'only attrs equal to ATTR, under it (whole names), or matching it as a glob with * and ? (repeatable)', collect)
    .action(async (flags: QueryFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const events = await askDaemon({ op: 'query', config, filter: { systems: flags.system ?? [], attrs: flags.attrPrefix ?? [] } }, (r) => r.events as EvalEvent[] | undefined, loggerFor(flags));
      process.stdout.write(events.map((e) => `${JSON.stringify(e)}\n`).join(''));
    });
}
