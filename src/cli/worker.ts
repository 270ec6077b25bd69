/** `evix worker --listen HOST:PORT`: serve evaluation to masters over the network. */
import { Command } from 'commander';
import { DEFAULT_MAX_MEMORY_MIB } from '../config.js';
import { isLoopback, parseEndpoint } from '../remote/endpoint.js';
import { DEFAULT_ALLOWED_OPTIONS } from '../remote/allowed-options.js';
import { UsageError } from './argv.js';
import { collect } from './config-options.js';
import { loggerFor, withLogOptions, type LogFlags } from './logging.js';
import { positiveInteger } from './numbers.js';
import { withExample } from './run.js';
import { untilStopped } from './signals.js';
import { readFileOption, readToken } from './tokens.js';

interface WorkerFlags extends LogFlags {
  listen: string;
  tokenFile?: string;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  allowImpure?: boolean;
  allowOption?: string[];
  insecure?: boolean;
  maxConnections: string;
  maxMemory: string;
}

export function workerCommand(): Command {
  return withExample(withLogOptions(new Command('worker')), 'evix worker --listen 0.0.0.0:7357 --token-file /run/secrets/evix-token --max-connections 4')
    .description('serve evaluation to evix masters over TCP (Cap\'n Proto), each connection one worker')
    .requiredOption('--listen <host:port>', 'address to listen on, e.g. 0.0.0.0:7357 (port 0 picks one)')
    .option('--token-file <file>', 'shared token masters must prove they know (or EVIX_TOKEN)')
    .option('--tls-cert <file>', 'serve TLS with this certificate (PEM)')
    .option('--tls-key <file>', 'the private key of --tls-cert (PEM)')
    .option('--tls-ca <file>', 'require client certificates signed by this CA (mutual TLS)')
    .option('--allow-impure', 'accept --impure evaluation and unrestricted --file/--expr inputs')
    .option('--allow-option <key>', `also accept --option KEY from masters (always: ${DEFAULT_ALLOWED_OPTIONS.join(', ')})`, collect)
    .option('--insecure', 'allow listening on a non-loopback address without a token')
    .option('--max-connections <n>', 'connections served at once (each is one nix evaluator)', '16')
    .option('--max-memory <mib>', "restart a connection's evaluator past this many MiB (caps what masters ask); the connections together keep to max-connections × MIB", String(DEFAULT_MAX_MEMORY_MIB))
    .action(async (flags: WorkerFlags) => {
      const endpoint = parseEndpoint(flags.listen);
      if ('error' in endpoint) throw new UsageError(`--listen: ${endpoint.error}`);
      const token = readToken(flags.tokenFile, 'EVIX_TOKEN');
      if (!token && !isLoopback(endpoint.host) && !flags.insecure) {
        throw new UsageError(`refusing to listen on ${flags.listen} without a token: give --token-file (or EVIX_TOKEN), or --insecure`);
      }
      if ((flags.tlsCert === undefined) !== (flags.tlsKey === undefined)) throw new UsageError('--tls-cert and --tls-key go together');
      const cert = readFileOption('--tls-cert', flags.tlsCert);
      const key = readFileOption('--tls-key', flags.tlsKey);
      const ca = readFileOption('--tls-ca', flags.tlsCa);
      if (ca && !cert) throw new UsageError('--tls-ca needs --tls-cert and --tls-key');
      const [log, { WorkerServer }] = await Promise.all([loggerFor(flags), import('../remote/worker-server.js')]);
      const server = new WorkerServer({
        host: endpoint.host,
        port: endpoint.port,
        token,
        ...(cert && key ? { tls: { cert, key, ...(ca ? { ca } : {}) } } : {}),
        policy: { allowImpure: flags.allowImpure ?? false, allowedOptions: new Set([...DEFAULT_ALLOWED_OPTIONS, ...(flags.allowOption ?? [])]) },
        maxConnections: positiveInteger('--max-connections', flags.maxConnections, 1),
        maxMemoryMiB: positiveInteger('--max-memory', flags.maxMemory, 1),
        log,
      });
      const address = await server.listen();
      const shown = address.family === 'IPv6' ? `[${address.address}]:${address.port}` : `${address.address}:${address.port}`;
      // A plain line, whatever the log level: scripts wait for it to learn the port.
      process.stderr.write(`evix worker listening on ${shown}${cert ? ' (TLS)' : ''}\n`);
      await untilStopped();
      log.info('shutting down: finishing items in flight');
      await server.close();
    });
}
