/**
 * The flags of an evaluation as `evix eval` takes them: the input and what
 * changes what it finds (config-options.ts), how the run is carried out
 * (workers, remotes, caches, output), and logging. query, diff and watch
 * take the same, so any eval command line works with the verb changed; the
 * flags that do not change what is found are accepted there and never enter
 * a session's key (the daemon keys by the configuration alone).
 */
import type { Command } from 'commander';
import { collect, withConfigOptions, type ConfigFlags } from './config-options.js';
import { withLogOptions, type LogFlags } from './logging.js';
import { positiveInteger } from './numbers.js';

export interface RunFlags extends ConfigFlags, LogFlags {
  workers?: string;
  gcRootsDir?: string;
  remote?: string[];
  remoteTokenFile?: string;
  remoteTlsCa?: string;
  remoteTlsCert?: string;
  remoteTlsKey?: string;
  outputFormat?: string;
  checkCacheStatus?: boolean;
  constituents?: boolean;
  daemon: boolean;
  /** A directory, false for --no-eval-cache, or unset (true) for the default. */
  evalCache?: string | boolean;
  refresh?: boolean;
}

export function withEvaluationOptions(command: Command): Command {
  return withLogOptions(withRunOptions(withConfigOptions(command)));
}

function withRunOptions(command: Command): Command {
  return command
    .option('--workers <n>', 'number of local workers, each a nix evaluator (default: 1; 0: remotes only)')
    .option('--gc-roots-dir <dir>', 'register a GC root in DIR for every derivation found')
    .option('--constituents', "resolve aggregates' constituents (derivations, names, globs) and rewrite their .drv as nix-eval-jobs does")
    .option('--check-cache-status', 'add cacheStatus (local, cached, notBuilt), isCached, neededBuilds and neededSubstitutes to each derivation')
    .option('--output-format <format>', 'evix (every event; the default) or nix-eval-jobs (derivation and error lines as nix-eval-jobs prints them)')
    .option('--remote <host:port> <systems> <n>', "use N connections to `evix worker` at HOST:PORT, owning SYSTEMS (comma list; '' for any; repeatable)", collect)
    .option('--remote-token-file <file>', 'token for remote workers (or EVIX_REMOTE_TOKEN)')
    .option('--remote-tls-ca <file>', 'connect to remotes over TLS, trusting this CA (PEM)')
    .option('--remote-tls-cert <file>', 'client certificate for remotes that require mutual TLS (PEM)')
    .option('--remote-tls-key <file>', 'the private key of --remote-tls-cert (PEM)')
    .option('--eval-cache <dir>', 'keep the evaluation cache in DIR (default $XDG_CACHE_HOME/evix); only flakes evaluated purely are cached, never --file, --expr or --impure runs')
    .option('--no-eval-cache', 'neither replay nor store this run in the evaluation cache')
    .option('--refresh', 'evaluate even when the cache has this walk, and store it anew')
    .option('--no-daemon', 'evaluate here even when an evix daemon answers (by default a plain run goes through it and stays warm there)');
}

/** --workers, checked: at least 1, or 0 when remotes do the work. */
export function localWorkers(flags: RunFlags, remotes = 0): number {
  return positiveInteger('--workers', flags.workers ?? '1', remotes > 0 ? 0 : 1);
}
