/** `evix eval`: walk an attribute tree and print its events as NDJSON. */
import { Command } from 'commander';
import { defaultCacheDirectory } from '../cache/directory.js';
import { parseEndpoint } from '../remote/endpoint.js';
import type { RemoteSpec } from '../evaluate.js';
import { OUTPUT_FORMATS, evixLine, nixEvalJobsLine, type LineFormat, type NixEvalJobsLineOptions } from '../sinks/formats.js';
import { UsageError, splitOptionValue } from './argv.js';
import { collect, configFromFlags, withConfigOptions, type ConfigFlags } from './config-options.js';
import { evaluateHere } from './evaluate-here.js';
import { evaluateThroughDaemon } from './through-daemon.js';
import { loggerFor, withLogOptions, type LogFlags } from './logging.js';
import { positiveInteger } from './numbers.js';
import { reportRun } from './report.js';
import { readFileOption, readToken } from './tokens.js';


interface EvalFlags extends LogFlags, ConfigFlags {
  workers: string;
  gcRootsDir?: string;
  remote: string[];
  remoteTokenFile?: string;
  remoteTlsCa?: string;
  remoteTlsCert?: string;
  remoteTlsKey?: string;
  outputFormat: string;
  checkCacheStatus?: boolean;
  constituents?: boolean;
  daemon: boolean;
  /** A directory, false for --no-eval-cache, or unset (true) for the default. */
  evalCache?: string | boolean;
  refresh?: boolean;
}

export function evalCommand(): Command {
  return withConfigOptions(withLogOptions(new Command('eval')))
    .description('evaluate an attribute tree and print every derivation, attrset and error as one JSON line')
    .option('--workers <n>', 'number of local workers, each a nix evaluator (0: remotes only)', '1')
    .option('--gc-roots-dir <dir>', 'register a GC root in DIR for every derivation found')
    .option('--constituents', "resolve aggregates' constituents (derivations, names, globs) and rewrite their .drv as nix-eval-jobs does")
    .option('--check-cache-status', 'add cacheStatus (local, cached, notBuilt), isCached, neededBuilds and neededSubstitutes to each derivation')
    .option('--output-format <format>', `evix (every event) or nix-eval-jobs (derivation and error lines as nix-eval-jobs prints them)`, 'evix')
    .option('--remote <host:port> <systems> <n>', "use N connections to `evix worker` at HOST:PORT, owning SYSTEMS (comma list; '' for any)", collect, [])
    .option('--remote-token-file <file>', 'token for remote workers (or EVIX_REMOTE_TOKEN)')
    .option('--remote-tls-ca <file>', 'connect to remotes over TLS, trusting this CA (PEM)')
    .option('--remote-tls-cert <file>', 'client certificate for remotes that require mutual TLS (PEM)')
    .option('--remote-tls-key <file>', 'the private key of --remote-tls-cert (PEM)')
    .option('--eval-cache <dir>', 'keep the evaluation cache in DIR (default $XDG_CACHE_HOME/evix); only flakes evaluated purely are cached, never --file, --expr or --impure runs')
    .option('--no-eval-cache', 'neither replay nor store this run in the evaluation cache')
    .option('--refresh', 'evaluate even when the cache has this walk, and store it anew')
    .option('--no-daemon', 'evaluate here even when an evix daemon answers (by default a plain run goes through it and stays warm there)')
    .action(async (flags: EvalFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const remotes = flags.remote.map(remoteSpec);
      const workers = positiveInteger('--workers', flags.workers, remotes.length > 0 ? 0 : 1);
      const remoteToken = readToken(flags.remoteTokenFile, 'EVIX_REMOTE_TOKEN');
      const ca = readFileOption('--remote-tls-ca', flags.remoteTlsCa);
      const cert = readFileOption('--remote-tls-cert', flags.remoteTlsCert);
      const key = readFileOption('--remote-tls-key', flags.remoteTlsKey);
      const format = outputFormat(flags.outputFormat, { constituents: flags.constituents ?? false, instantiated: true });
      const { NdjsonSink } = await import('../sinks/ndjson.js');
      const out = new NdjsonSink(process.stdout, format);
      // Runs with options the daemon does not take evaluate here.
      const plain = remotes.length === 0 && !flags.gcRootsDir && !flags.checkCacheStatus && !flags.constituents && (flags.evalCache ?? true) === true && !flags.refresh;
      if (flags.daemon && plain) {
        const result = await evaluateThroughDaemon(config, workers, out.write);
        if (result) {
          out.flush();
          return reportRun(result);
        }
      }
      const evalCache = flags.evalCache !== false ? { directory: typeof flags.evalCache === 'string' ? flags.evalCache : defaultCacheDirectory(), refresh: flags.refresh ?? false } : undefined;
      const result = await evaluateHere(config, {
        workers,
        remotes,
        remoteToken,
        remoteTls: ca || cert ? { ca, cert, key } : undefined,
        out,
        log: loggerFor(flags),
        progress: !flags.quiet,
        gcRootsDir: flags.gcRootsDir,
        checkCacheStatus: flags.checkCacheStatus ?? false,
        constituents: flags.constituents ?? false,
        evalCache,
      });
      reportRun(result);
    });
}

function outputFormat(text: string, options: NixEvalJobsLineOptions): LineFormat {
  const format = OUTPUT_FORMATS.find((f) => f === text);
  if (!format) throw new UsageError(`--output-format must be one of ${OUTPUT_FORMATS.join(', ')}, not '${text}'`);
  return format === 'evix' ? evixLine : nixEvalJobsLine(options);
}

/** `--remote HOST:PORT SYSTEMS N`. */
function remoteSpec(joined: string): RemoteSpec {
  const [where = '', systems = '', count = ''] = splitOptionValue(joined);
  const endpoint = parseEndpoint(where);
  if ('error' in endpoint) throw new UsageError(`--remote: ${endpoint.error}`);
  const owned = systems.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return { endpoint, systems: owned, connections: positiveInteger('--remote N', count, 1) };
}
