/** `evix eval`: walk an attribute tree and print its events as NDJSON. */
import { Command } from 'commander';
import { DEFAULT_MAX_MEMORY_MIB, type AutoArg, type EvalConfig, type EvalInput } from '../config.js';
import { evaluate } from '../evaluate.js';
import { createLogger } from '../log.js';
import { parseEndpoint } from '../remote/endpoint.js';
import type { RemoteSpec } from '../evaluate.js';
import { OUTPUT_FORMATS, type OutputFormat } from '../sinks/formats.js';
import { NdjsonSink } from '../sinks/ndjson.js';
import { Progress } from './progress.js';
import { UsageError, splitOptionValue } from './argv.js';
import { logLevelOf, withLogOptions, type LogFlags } from './logging.js';
import { positiveInteger } from './numbers.js';
import { reportRun } from './report.js';
import { readFileOption, readToken } from './tokens.js';
import { runWithSignals } from './signals.js';

/** Options taking more than one value, for joinOptionValues. */
export const EVAL_MULTI_VALUE_OPTIONS = new Map([
  ['--arg', 2],
  ['--argstr', 2],
  ['--option', 2],
  ['--override-input', 2],
  ['--remote', 3],
]);

interface EvalFlags extends LogFlags {
  file?: string;
  expr?: string;
  flake?: string;
  arg: string[];
  argstr: string[];
  include: string[];
  option: string[];
  overrideInput: string[];
  impure?: boolean;
  workers: string;
  maxMemory: string;
  maxMemorySize?: string;
  forceRecurse?: boolean;
  meta?: boolean;
  showInputDrvs?: boolean;
  gcRootsDir?: string;
  showTrace?: boolean;
  remote: string[];
  remoteTokenFile?: string;
  remoteTlsCa?: string;
  remoteTlsCert?: string;
  remoteTlsKey?: string;
  select?: string;
  apply?: string;
  outputFormat: string;
  checkCacheStatus?: boolean;
  constituents?: boolean;
}

const collect = (value: string, previous: string[]) => [...previous, value];

export function evalCommand(): Command {
  return withLogOptions(new Command('eval'))
    .description('evaluate an attribute tree and print every derivation, attrset and error as one JSON line')
    .option('--file <path>', 'evaluate the Nix file at PATH')
    .option('--expr <expr>', 'evaluate the Nix expression EXPR')
    .option('--flake <ref>', 'evaluate flake REF#attr.path (flakes are enabled for this run; locked once)')
    .option('--arg <name> <expr>', 'pass Nix expression EXPR as argument NAME of a function root', collect, [])
    .option('--argstr <name> <value>', 'pass string VALUE as argument NAME of a function root', collect, [])
    .option('-I, --include <path>', 'add PATH to the Nix search path (as nix -I)', collect, [])
    .option('--option <key> <value>', 'set Nix configuration option KEY to VALUE', collect, [])
    .option('--override-input <name> <ref>', 'with --flake: use REF for the flake input NAME', collect, [])
    .option('--impure', 'allow impure evaluation of a flake (files and expressions are impure already)')
    .option('--workers <n>', 'number of local workers, each a nix evaluator (0: remotes only)', '1')
    .option('--max-memory <mib>', "restart a worker's evaluator once it uses more than MIB MiB", String(DEFAULT_MAX_MEMORY_MIB))
    .option('--max-memory-size <mib>', 'alias of --max-memory')
    .option('--force-recurse', 'recurse into every attrset, not only those with recurseForDerivations = true')
    .option('--meta', "include each derivation's meta attributes")
    .option('--show-input-drvs', "include each derivation's input derivations, read from its .drv")
    .option('--gc-roots-dir <dir>', 'register a GC root in DIR for every derivation found')
    .option('--select <expr>', 'apply the Nix function EXPR to the root before the walk')
    .option('--apply <expr>', "apply the Nix function EXPR to each derivation; its result is printed as extraValue")
    .option('--constituents', "resolve aggregates' constituents (derivations, names, globs) and rewrite their .drv as nix-eval-jobs does")
    .option('--check-cache-status', 'add cacheStatus (local, cached, notBuilt), isCached, neededBuilds and neededSubstitutes to each derivation')
    .option('--output-format <format>', `evix (every event) or nix-eval-jobs (derivation and error lines as nix-eval-jobs prints them)`, 'evix')
    .option('--show-trace', 'include Nix stack traces in error messages')
    .option('--remote <host:port> <systems> <n>', "use N connections to `evix worker` at HOST:PORT, owning SYSTEMS (comma list; '' for any)", collect, [])
    .option('--remote-token-file <file>', 'token for remote workers (or EVIX_REMOTE_TOKEN)')
    .option('--remote-tls-ca <file>', 'connect to remotes over TLS, trusting this CA (PEM)')
    .option('--remote-tls-cert <file>', 'client certificate for remotes that require mutual TLS (PEM)')
    .option('--remote-tls-key <file>', 'the private key of --remote-tls-cert (PEM)')
    .action(async (flags: EvalFlags) => {
      const config = configFromFlags(flags, process.cwd());
      const remotes = flags.remote.map(remoteSpec);
      const workers = positiveInteger('--workers', flags.workers, remotes.length > 0 ? 0 : 1);
      const remoteToken = readToken(flags.remoteTokenFile, 'EVIX_REMOTE_TOKEN');
      const ca = readFileOption('--remote-tls-ca', flags.remoteTlsCa);
      const cert = readFileOption('--remote-tls-cert', flags.remoteTlsCert);
      const key = readFileOption('--remote-tls-key', flags.remoteTlsKey);
      const format = outputFormat(flags.outputFormat);
      const log = createLogger(logLevelOf(flags));
      const out = new NdjsonSink(process.stdout, format);
      const progress = Progress.wanted(process.stderr, flags.quiet ?? false) ? new Progress(process.stderr) : undefined;
      try {
        const result = await runWithSignals((signal) =>
          evaluate(config, {
            workers,
            remotes,
            remoteToken,
            ...(ca || cert ? { remoteTls: { ca, cert, key } } : {}),
            onEvent: out.write,
            checkCacheStatus: flags.checkCacheStatus ?? false,
            constituents: flags.constituents ?? false,
            log,
            signal,
            ...(progress ? { observe: (snapshot: Parameters<Progress['watch']>[0]) => progress.watch(snapshot) } : {}),
            ...(flags.gcRootsDir ? { gcRootsDir: flags.gcRootsDir } : {}),
          }),
        );
        progress?.stop();
        reportRun(result);
      } finally {
        progress?.stop();
        out.flush();
      }
    });
}

export function configFromFlags(flags: EvalFlags, workdir: string): EvalConfig {
  const inputs: EvalInput[] = [];
  if (flags.file !== undefined) inputs.push({ kind: 'file', path: flags.file });
  if (flags.expr !== undefined) inputs.push({ kind: 'expr', expr: flags.expr });
  if (flags.flake !== undefined) inputs.push({ kind: 'flake', ref: flags.flake });
  if (inputs.length !== 1) throw new UsageError('give exactly one of --file, --expr or --flake');
  const input = inputs[0]!;
  if (flags.overrideInput.length > 0 && input.kind !== 'flake') throw new UsageError('--override-input needs --flake');
  const autoArgs: AutoArg[] = [
    ...flags.arg.map((v) => autoArg('--arg', 'expr', v)),
    ...flags.argstr.map((v) => autoArg('--argstr', 'string', v)),
  ];
  return {
    input,
    autoArgs,
    includePaths: flags.include,
    nixOptions: flags.option.map((v) => pair(v)),
    overrideInputs: flags.overrideInput.map((v) => pair(v)),
    impure: flags.impure ?? false,
    forceRecurse: flags.forceRecurse ?? false,
    meta: flags.meta ?? false,
    showInputDrvs: flags.showInputDrvs ?? false,
    showTrace: flags.showTrace ?? false,
    maxMemoryMiB: positiveInteger('--max-memory', flags.maxMemorySize ?? flags.maxMemory, 1),
    workdir,
    ...(flags.select !== undefined ? { select: flags.select } : {}),
    ...(flags.apply !== undefined ? { apply: flags.apply } : {}),
  };
}

function autoArg(option: string, kind: AutoArg['kind'], joined: string): AutoArg {
  const [name, value] = pair(joined);
  if (!/^[A-Za-z_][A-Za-z0-9_'-]*$/.test(name)) throw new UsageError(`${option}: '${name}' is not a valid argument name`);
  return { name, kind, value };
}

function pair(joined: string): [string, string] {
  const [a = '', b = ''] = splitOptionValue(joined);
  return [a, b];
}

function outputFormat(text: string): OutputFormat {
  const format = OUTPUT_FORMATS.find((f) => f === text);
  if (!format) throw new UsageError(`--output-format must be one of ${OUTPUT_FORMATS.join(', ')}, not '${text}'`);
  return format;
}

/** `--remote HOST:PORT SYSTEMS N`. */
function remoteSpec(joined: string): RemoteSpec {
  const [where = '', systems = '', count = ''] = splitOptionValue(joined);
  const endpoint = parseEndpoint(where);
  if ('error' in endpoint) throw new UsageError(`--remote: ${endpoint.error}`);
  const owned = systems.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return { endpoint, systems: owned, connections: positiveInteger('--remote N', count, 1) };
}
