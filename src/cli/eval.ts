/** `evix eval`: walk an attribute tree and print its events as NDJSON. */
import { Command } from 'commander';
import { defaultCacheDirectory } from '../cache/directory.js';
import { parseEndpoint } from '../remote/endpoint.js';
import type { RemoteSpec } from '../evaluate.js';
import { OUTPUT_FORMATS, evixLine, nixEvalJobsLine, type LineFormat, type NixEvalJobsLineOptions } from '../sinks/formats.js';
import { UsageError, splitOptionValue } from './argv.js';
import { configFromFlags } from './config-options.js';
import { evaluateHere } from './evaluate-here.js';
import { evaluateThroughDaemon } from './through-daemon.js';
import { loggerFor } from './logging.js';
import { positiveInteger } from './numbers.js';
import { reportRun } from './report.js';
import { withExample } from './run.js';
import { localWorkers, withEvaluationOptions, type RunFlags } from './run-options.js';
import { readFileOption, readToken } from './tokens.js';

export function evalCommand(): Command {
  return withExample(withEvaluationOptions(new Command('eval')), 'evix eval --flake .#hydraJobs --workers 4 --remote builder:7357 aarch64-linux 4')
    .description('evaluate an attribute tree and print every derivation, attrset and error as one JSON line')
    .action(async (flags: RunFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const remotes = (flags.remote ?? []).map(remoteSpec);
      const workers = localWorkers(flags, remotes.length);
      const remoteToken = readToken(flags.remoteTokenFile, 'EVIX_REMOTE_TOKEN');
      const ca = readFileOption('--remote-tls-ca', flags.remoteTlsCa);
      const cert = readFileOption('--remote-tls-cert', flags.remoteTlsCert);
      const key = readFileOption('--remote-tls-key', flags.remoteTlsKey);
      const format = outputFormat(flags.outputFormat ?? 'evix', { constituents: flags.constituents ?? false, instantiated: true });
      const { NdjsonSink } = await import('../sinks/ndjson.js');
      const out = new NdjsonSink(process.stdout, format);
      const log = loggerFor(flags);
      const viaDaemon = await evaluateThroughDaemon(flags, config, workers, out.write, log);
      if (viaDaemon) {
        out.flush();
        return reportRun(viaDaemon);
      }
      const evalCache = flags.evalCache !== false ? { directory: typeof flags.evalCache === 'string' ? flags.evalCache : defaultCacheDirectory(), refresh: flags.refresh ?? false } : undefined;
      const result = await evaluateHere(config, {
        workers,
        remotes,
        remoteToken,
        remoteTls: ca || cert ? { ca, cert, key } : undefined,
        out,
        log,
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
