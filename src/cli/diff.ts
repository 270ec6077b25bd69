/**
 * `evix diff`: evaluate again and print what changed, as one JSON object
 * {added, removed, changed, errors}: against the daemon's warm graph, or with
 * --base against another revision of the flake (both through the evaluation
 * cache, so a CI comparing with the last commit evaluates only what it lacks).
 */
import { Command } from 'commander';
import { defaultCacheDirectory } from '../cache/directory.js';
import { splitFlakeReference } from '../nix/flake-ref.js';
import { UsageError } from './argv.js';
import { configFromFlags } from './config-options.js';
import { loggerFor } from './logging.js';
import { withExample } from './run.js';
import { localWorkers, withEvaluationOptions, type RunFlags } from './run-options.js';
import { askDaemon, type GraphDiff } from './through-daemon.js';

interface DiffFlags extends RunFlags {
  base?: string;
}

export function diffCommand(): Command {
  return withExample(withEvaluationOptions(new Command('diff')), "evix diff --flake .#hydraJobs --base 'git+file:.?rev=HEAD~1'")
    .description('re-evaluate and print {added, removed, changed, errors}: against the daemon\'s warm graph (which the new one replaces), or against --base')
    .option('--base <ref>', 'with --flake: compare with this revision of the flake (e.g. git+file:.?rev=SHA); its fragment defaults to --flake\'s')
    .action(async (flags: DiffFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const workers = localWorkers(flags);
      let diff: GraphDiff;
      if (flags.base !== undefined) {
        if (config.input.kind !== 'flake') throw new UsageError('--base needs --flake');
        const { fragment } = splitFlakeReference(config.input.ref);
        const baseRef = flags.base.includes('#') || fragment === '' ? flags.base : `${flags.base}#${fragment}`;
        const [{ Session }, log] = await Promise.all([import('../session/session.js'), loggerFor(flags)]);
        log.info('evaluating here: --base compares two revisions of the flake in this process');
        const options = { workers, log, evalCache: { directory: defaultCacheDirectory(), refresh: false } };
        const base = await Session.open({ ...config, input: { kind: 'flake', ref: baseRef } }, options);
        const current = await Session.open(config, options);
        await base.refresh();
        await current.refresh();
        diff = current.compareWith(base);
      } else {
        diff = await askDaemon({ op: 'diff', config, workers }, (r) => r.diff as GraphDiff | undefined, loggerFor(flags));
      }
      process.stdout.write(`${JSON.stringify(diff)}\n`);
    });
}
