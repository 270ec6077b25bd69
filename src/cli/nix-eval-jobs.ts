/**
 * `evix-eval-jobs` (also `evix nix-eval-jobs`): nix-eval-jobs' command line,
 * output, stderr and exit statuses, evaluated by evix, so that a client
 * (nix-fast-build, buildbot-nix, nixpkgs-review, nix-eval-jobs' own test
 * suite) can run it in nix-eval-jobs' place unchanged.
 *
 * Its command line is Nix's (see nix-args.ts): one positional argument (a
 * file, or an expression with --expr/-E, or a flake reference with
 * --flake), every Nix setting as a flag, and Nix's messages for mistakes.
 * Where evix differs on purpose (README "A drop-in for nix-eval-jobs"):
 * - an attribute whose evaluator dies (a stack overflow) is an error line
 *   and the others are still evaluated; the exit status is 1 as
 *   nix-eval-jobs', whose run stops there;
 * - --no-instantiate leaves out what is read from a .drv and the GC roots,
 *   but the .drv files are still written: Nix's repl has no read-only mode.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { defaultCacheDirectory } from '../cache/directory.js';
import { completeConfig, type AutoArg, type EvalInput } from '../config.js';
import { isErrorEvent, type EvalEvent } from '../events.js';
import { EVALUATOR_DIED } from '../failures.js';
import type { LogFormat, LogLevel } from '../log.js';
import { nixSettings, type SettingKind } from '../nix/settings.js';
import { nixErrorText, nixEvalJobsAttr, nixEvalJobsLine } from '../sinks/formats.js';
import { evaluateHere } from './evaluate-here.js';
import { NixUsageError, needsSettings, parseNixArgs, type FlagSpec, type ParsedArg } from './nix-args.js';
import { positiveInteger } from './numbers.js';
import { quietOnClosedStdout } from './signals.js';

interface Flag extends FlagSpec {
  help: string;
}

/** nix-eval-jobs' flags and those it takes from Nix; settings come from Nix itself. */
const FLAGS: Flag[] = [
  { names: ['--apply'], arity: 1, help: 'call Nix function EXPR with each derivation; its result is printed as extraValue' },
  { names: ['--arg'], arity: 2, help: 'pass Nix expression EXPR as argument NAME of function roots and attributes' },
  { names: ['--arg-from-file'], arity: 2, help: 'pass the contents of file PATH as string argument NAME' },
  { names: ['--arg-from-stdin'], arity: 1, help: 'pass standard input as string argument NAME' },
  { names: ['--argstr'], arity: 2, help: 'pass string VALUE as argument NAME' },
  { names: ['--check-cache-status'], arity: 0, help: 'add cacheStatus, isCached, neededBuilds and neededSubstitutes to each derivation' },
  { names: ['--constituents'], arity: 0, help: "resolve Hydra aggregates' constituents and rewrite their .drv" },
  { names: ['--debug'], arity: 0, help: 'log at debug level' },
  { names: ['--eval-store'], arity: 1, help: 'evaluate in the store at URL and write .drv files there' },
  { names: ['--expr', '-E'], arity: 0, help: 'the argument is a Nix expression' },
  { names: ['--flake'], arity: 0, help: 'the argument is a flake reference, REF#attr.path' },
  { names: ['--force-recurse'], arity: 0, help: 'walk into every attrset, not only those with recurseForDerivations' },
  { names: ['--gc-roots-dir'], arity: 1, help: 'register a GC root in DIR for every derivation' },
  { names: ['--help'], arity: 0, help: 'print this help' },
  { names: ['--impure'], arity: 0, help: 'evaluate a flake impurely' },
  { names: ['--include', '-I'], arity: 1, help: 'add PATH to the Nix search path' },
  { names: ['--log-format'], arity: 1, help: 'raw, bar, bar-with-logs: text lines; internal-json, json: JSON lines' },
  { names: ['--max-jobs', '-j'], arity: 1, help: "Nix's max-jobs setting" },
  { names: ['--max-memory-size'], arity: 1, help: "restart a worker's evaluator past MIB MiB; the workers together keep to workers x MIB (default 4096)" },
  { names: ['--meta'], arity: 0, help: "add each derivation's meta" },
  { names: ['--no-instantiate'], arity: 0, help: 'leave out what is read from .drv files and GC roots' },
  { names: ['--option'], arity: 2, help: 'set Nix setting NAME to VALUE' },
  { names: ['--override-flake'], arity: 2, help: 'redirect registry entry FROM to flake TO while locking' },
  { names: ['--override-input'], arity: 2, help: 'use flake REF for input NAME of the flake' },
  { names: ['--quiet'], arity: 0, help: 'log less' },
  { names: ['--reference-lock-file'], arity: 1, help: "lock the flake's inputs as lock file PATH says, not its flake.lock" },
  { names: ['--repair'], arity: 0, help: 'accepted and ignored, as nix-eval-jobs does' },
  { names: ['--select'], arity: 1, help: 'call Nix function EXPR with the root (the flake itself without a fragment); walk its result' },
  { names: ['--show-input-drvs'], arity: 0, help: "add each derivation's input derivations" },
  { names: ['--show-trace'], arity: 0, help: 'include Nix stack traces in error messages' },
  { names: ['--verbose', '-v'], arity: 0, help: 'log more' },
  { names: ['--workers'], arity: 1, help: 'number of evaluators (default 1)' },
];

/** Flags that take nothing but need instantiated derivations. */
const NEED_INSTANTIATION = ['--show-input-drvs', '--check-cache-status', '--constituents'];

/** Flags that read .drv files through the default store. */
const READ_DRV_FILES = ['--gc-roots-dir', ...NEED_INSTANTIATION];

const LOG_FORMATS = new Map<string, LogFormat>([
  ['raw', 'text'],
  ['raw-with-logs', 'text'],
  ['bar', 'text'],
  ['bar-with-logs', 'text'],
  ['internal-json', 'json'],
  ['json', 'json'],
]);

/** A mistake that is not about the command line's shape: `error: …`, exit 1, no "Try" line. */
class DropInError extends Error {}

/** Runs a nix-eval-jobs command line; `program` is how it was invoked, for messages. */
export async function nixEvalJobs(argv: readonly string[], program: string): Promise<void> {
  quietOnClosedStdout();
  try {
    // Nix's settings are asked of Nix only when a flag may name one.
    const settings = needsSettings(argv, FLAGS) || argv.includes('--option') ? await nixSettings(process.cwd()) : undefined;
    const parsed = parseNixArgs(argv, FLAGS, settings);
    for (const arg of parsed) {
      // As Nix warns, and goes on.
      if ('flag' in arg && arg.flag === '--option' && settings && !isSetting(arg.values[0]!, settings)) process.stderr.write(`warning: unknown setting '${arg.values[0]}'\n`);
    }
    if (parsed.some((p) => 'flag' in p && p.flag === '--help')) {
      process.stdout.write(usage());
      return;
    }
    await run(commandLine(parsed));
  } catch (error) {
    const message = nixErrorText((error as Error).message);
    process.stderr.write(error instanceof NixUsageError ? `${message}\nTry '${program} --help' for more information.\n` : `${message}\n`);
    process.exitCode = 1;
  }
}

function isSetting(name: string, settings: ReadonlyMap<string, SettingKind>): boolean {
  return settings.has(name) || (name.startsWith('extra-') && settings.has(name.slice('extra-'.length)));
}

interface CommandLine {
  input: EvalInput;
  flags: Map<string, string[][]>;
  options: Array<[string, string]>;
  autoArgs: AutoArg[];
  level: LogLevel;
  logFormat: LogFormat;
}

function commandLine(parsed: readonly ParsedArg[]): CommandLine {
  const flags = new Map<string, string[][]>();
  const positionals: string[] = [];
  const options: Array<[string, string]> = [];
  const autoArgs: AutoArg[] = [];
  let verbosity = 0;
  let logFormat: LogFormat = 'text';
  for (const arg of parsed) {
    if ('positional' in arg) {
      if (positionals.length > 0) throw new NixUsageError(`unexpected argument '${arg.positional}'`);
      positionals.push(arg.positional);
      continue;
    }
    if ('setting' in arg) {
      options.push([arg.setting, arg.value]);
      continue;
    }
    const { flag, values } = arg;
    flags.set(flag, [...(flags.get(flag) ?? []), values]);
    switch (flag) {
      case '--option':
        options.push([values[0]!, values[1]!]);
        break;
      case '--max-jobs':
        options.push(['max-jobs', values[0]!]);
        break;
      case '--arg':
        autoArgs.push({ name: values[0]!, kind: 'expr', value: values[1]! });
        break;
      case '--argstr':
        autoArgs.push({ name: values[0]!, kind: 'string', value: values[1]! });
        break;
      case '--arg-from-file':
        autoArgs.push({ name: values[0]!, kind: 'string', value: readArgument(values[1]!) });
        break;
      case '--arg-from-stdin':
        autoArgs.push({ name: values[0]!, kind: 'string', value: readArgument(0) });
        break;
      case '--verbose':
        verbosity++;
        break;
      case '--quiet':
        verbosity--;
        break;
      case '--debug':
        verbosity = 2;
        break;
      case '--log-format': {
        const format = LOG_FORMATS.get(values[0]!);
        if (!format) throw new DropInError(`option 'log-format' has an invalid value '${values[0]}'`);
        logFormat = format;
        break;
      }
    }
  }
  if (flags.has('--no-instantiate')) {
    const conflicting = NEED_INSTANTIATION.filter((f) => flags.has(f));
    if (conflicting.length > 0) throw new NixUsageError(`--no-instantiate is incompatible with: ${conflicting.join(', ')}. These features require instantiated derivations.`);
  }
  if (flags.has('--eval-store')) {
    const conflicting = READ_DRV_FILES.filter((f) => flags.has(f));
    if (conflicting.length > 0) throw new DropInError(`--eval-store cannot be combined with ${conflicting.join(', ')} yet`);
  }
  const expr = positionals[0];
  if (expr === undefined) throw new NixUsageError('more arguments are required');
  if (expr === '') throw new NixUsageError('no expression specified');
  const levels: LogLevel[] = ['error', 'warn', 'info', 'debug', 'trace'];
  return { input: inputOf(expr, flags), flags, options, autoArgs, level: levels[Math.max(0, Math.min(verbosity + 1, 4))]!, logFormat };
}

/** The positional argument as nix-eval-jobs reads it: a flake with --flake, an expression with --expr, else a file (`<name>` looked up). */
function inputOf(expr: string, flags: ReadonlyMap<string, string[][]>): EvalInput {
  if (flags.has('--flake')) return { kind: 'flake', ref: expr };
  if (flags.has('--expr')) return { kind: 'expr', expr };
  if (/^<[^<>]+>$/.test(expr)) return { kind: 'expr', expr: `import ${expr}` };
  return { kind: 'file', path: expr };
}

function readArgument(file: string | 0): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (error) {
    throw new DropInError(`cannot read ${file === 0 ? 'standard input' : `'${file}'`}: ${(error as Error).message}`);
  }
}

async function run({ input, flags, options, autoArgs, level, logFormat }: CommandLine): Promise<void> {
  const last = (flag: string) => flags.get(flag)?.at(-1);
  const has = (flag: string) => flags.has(flag);
  const cwd = process.cwd();
  const config = completeConfig({
    input,
    autoArgs,
    includePaths: flags.get('--include')?.map((v) => v[0]!),
    nixOptions: options,
    overrideInputs: flags.get('--override-input')?.map((v) => [v[0]!, v[1]!] as [string, string]),
    impure: has('--impure'),
    forceRecurse: has('--force-recurse'),
    meta: has('--meta'),
    showInputDrvs: has('--show-input-drvs'),
    showTrace: has('--show-trace'),
    maxMemoryMiB: last('--max-memory-size') ? positiveInteger('--max-memory-size', last('--max-memory-size')![0]!, 1) : undefined,
    workdir: cwd,
    select: last('--select')?.[0],
    apply: last('--apply')?.[0],
    evalStore: last('--eval-store')?.[0],
    overrideFlakes: flags.get('--override-flake')?.map((v) => [v[0]!, v[1]!] as [string, string]),
    referenceLockFile: last('--reference-lock-file') ? resolve(cwd, last('--reference-lock-file')![0]!) : undefined,
  });
  const instantiated = !has('--no-instantiate');
  const gcRootsDir = instantiated ? last('--gc-roots-dir')?.[0] : undefined;
  const [{ NdjsonSink }, { createLogger }] = await Promise.all([import('../sinks/ndjson.js'), import('../log.js')]);
  const out = new NdjsonSink(process.stdout, nixEvalJobsLine({ constituents: has('--constituents'), instantiated }));
  const deaths: EvalEvent[] = [];
  const result = await evaluateHere(config, {
    workers: last('--workers') ? positiveInteger('--workers', last('--workers')![0]!, 1) : 1,
    out,
    log: createLogger(level, logFormat),
    progress: false,
    gcRootsDir: gcRootsDir === undefined ? undefined : resolve(cwd, gcRootsDir),
    checkCacheStatus: has('--check-cache-status'),
    constituents: has('--constituents'),
    // Nix's own eval-cache setting (--no-eval-cache) switches evix's off too.
    evalCache: options.some(([name, value]) => name === 'eval-cache' && value === 'false') ? undefined : { directory: defaultCacheDirectory(), refresh: false },
    // nix-eval-jobs prints each attribute's error on stderr too.
    onEvent: (event) => {
      if (!isErrorEvent(event) || event.fatal) return;
      process.stderr.write(`${nixErrorText(event.error)}\n`);
      if (event.error.startsWith(EVALUATOR_DIED)) deaths.push(event);
    },
  });
  if (result.fatal !== undefined) {
    process.stderr.write(`${nixErrorText(result.fatal.message)}\n`);
    process.exitCode = 1;
  } else if (deaths.length > 0) {
    const attrs = deaths.map((e) => `'${nixEvalJobsAttr(e.attrPath)}'`).join(', ');
    // Each one's error, printed above, says how (a stack overflow says: possible infinite recursion).
    process.stderr.write(`error: the nix evaluator died evaluating ${attrs}; every other attribute was evaluated\n`);
    process.exitCode = 1;
  }
}

/** nix-eval-jobs' --help: its flags, sorted by long name. */
function usage(): string {
  const lines = [...FLAGS].sort((a, b) => (a.names[0]! < b.names[0]! ? -1 : 1)).map((f) => `  ${f.names[0]!.padEnd(20)} ${f.help}`);
  return `USAGE: nix-eval-jobs [options] expr\n\n${lines.join('\n')}\n`;
}
