/**
 * The options that define an evaluation (its input and everything that
 * changes what it finds), shared by eval, query and diff: the same flags give
 * the same configuration, which is what the daemon keys its sessions by.
 */
import type { Command } from 'commander';
import { DEFAULT_EVAL_OPTIONS, completeConfig, type AutoArg, type EvalConfig, type EvalInput } from '../config.js';
import { UsageError, splitOptionValue } from './argv.js';
import { positiveInteger } from './numbers.js';

/** The flags as commander gives them: a flag not given is undefined, so the config takes its default. */
export interface ConfigFlags {
  file?: string;
  expr?: string;
  flake?: string;
  arg?: string[];
  argstr?: string[];
  include?: string[];
  option?: string[];
  overrideInput?: string[];
  impure?: boolean;
  maxMemory?: string;
  maxMemorySize?: string;
  forceRecurse?: boolean;
  meta?: boolean;
  showInputDrvs?: boolean;
  showTrace?: boolean;
  select?: string;
  apply?: string;
}

/** Options taking more than one value, for joinOptionValues. */
export const MULTI_VALUE_OPTIONS = new Map([
  ['--arg', 2],
  ['--argstr', 2],
  ['--option', 2],
  ['--override-input', 2],
  ['--remote', 3],
]);

export const collect = (value: string, previous: string[] = []) => [...previous, value];

export function withConfigOptions(command: Command): Command {
  return command
    .option('--file <path>', 'evaluate the Nix file at PATH')
    .option('--expr <expr>', 'evaluate the Nix expression EXPR')
    .option('--flake <ref>', 'evaluate flake REF#attr.path (flakes are enabled for this run; locked once)')
    .option('--arg <name> <expr>', 'pass Nix expression EXPR as argument NAME of a function root', collect)
    .option('--argstr <name> <value>', 'pass string VALUE as argument NAME of a function root', collect)
    .option('-I, --include <path>', 'add PATH to the Nix search path (as nix -I)', collect)
    .option('--option <key> <value>', 'set Nix configuration option KEY to VALUE', collect)
    .option('--override-input <name> <ref>', 'with --flake: use REF for the flake input NAME', collect)
    .option('--impure', 'allow impure evaluation of a flake (files and expressions are impure already)')
    .option('--max-memory <mib>', `restart a worker's evaluator once it uses more than MIB MiB; the local evaluators together keep to workers × MIB (default: ${DEFAULT_EVAL_OPTIONS.maxMemoryMiB})`)
    .option('--max-memory-size <mib>', 'alias of --max-memory')
    .option('--force-recurse', 'recurse into every attrset, not only those with recurseForDerivations = true')
    .option('--meta', "include each derivation's meta attributes")
    .option('--show-input-drvs', "include each derivation's input derivations, read from its .drv")
    .option('--select <expr>', 'apply the Nix function EXPR to the root before the walk')
    .option('--apply <expr>', 'apply the Nix function EXPR to each derivation; its result is printed as extraValue')
    .option('--show-trace', 'include Nix stack traces in error messages');
}

export function configFromFlags(flags: ConfigFlags, workdir: string): EvalConfig {
  const inputs: EvalInput[] = [];
  if (flags.file !== undefined) inputs.push({ kind: 'file', path: flags.file });
  if (flags.expr !== undefined) inputs.push({ kind: 'expr', expr: flags.expr });
  if (flags.flake !== undefined) inputs.push({ kind: 'flake', ref: flags.flake });
  if (inputs.length !== 1) throw new UsageError('give exactly one of --file, --expr or --flake');
  const input = inputs[0]!;
  if (flags.overrideInput !== undefined && input.kind !== 'flake') throw new UsageError('--override-input needs --flake');
  // --arg and --argstr fill one list; with neither given, it takes the default.
  const autoArgs =
    flags.arg || flags.argstr
      ? [...(flags.arg ?? []).map((v) => autoArg('--arg', 'expr', v)), ...(flags.argstr ?? []).map((v) => autoArg('--argstr', 'string', v))]
      : undefined;
  const maxMemory = flags.maxMemorySize ?? flags.maxMemory;
  return completeConfig({
    input,
    autoArgs,
    includePaths: flags.include,
    nixOptions: flags.option?.map(pair),
    overrideInputs: flags.overrideInput?.map(pair),
    impure: flags.impure,
    forceRecurse: flags.forceRecurse,
    meta: flags.meta,
    showInputDrvs: flags.showInputDrvs,
    showTrace: flags.showTrace,
    maxMemoryMiB: maxMemory === undefined ? undefined : positiveInteger('--max-memory', maxMemory, 1),
    workdir,
    select: flags.select,
    apply: flags.apply,
  });
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
