/**
 * Shared test helpers: running the built CLI, running the library, and the
 * oracle, which asks Nix itself (nix-instantiate, nix show-derivation) what
 * each derivation is, independently of evix's evaluator.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import PQueue from 'p-queue';
import { expect } from 'vitest';
import { completeConfig, type EvalConfig } from '../src/config.js';
import { evaluate, type EvaluateOptions } from '../src/evaluate.js';
import { isDerivationEvent, isErrorEvent, type DerivationEvent, type EvalEvent } from '../src/events.js';
import type { RunFailure } from '../src/failures.js';
import type { RunResult } from '../src/master/run.js';
import { messageFirst } from '../src/nix/error-layout.js';
import { nixString } from '../src/nix/syntax.js';

export const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const FIXTURES = `${ROOT}test/fixtures`;
export const CLI = `${ROOT}dist/bin/evix.js`;
/**
 * The machine's own Node when it is older than evix needs (Debian
 * bookworm's 20), for the tests of what such a Node gets; otherwise
 * why not: there is none (the roots scripts/nix-versions makes), or it is
 * new enough.
 */
export function olderSystemNode(): { path: string; version: string } | { missing: string } {
  const path = ['/usr/bin/node', '/usr/local/bin/node'].find((candidate) => existsSync(candidate));
  if (path === undefined) return { missing: 'no system node here' };
  const version = execFileSync(path, ['--version'], { encoding: 'utf8' }).trim();
  return Number(/^v(\d+)/.exec(version)?.[1]) < 22 ? { path, version } : { missing: `${path} is ${version}, not older than 22` };
}

/** Whether npm is on PATH: the roots of other Debian releases that scripts/nix-versions makes have none. */
export const HAS_NPM = (process.env.PATH ?? '').split(':').some((dir) => dir !== '' && existsSync(join(dir, 'npm')));
const FLAKES = ['--extra-experimental-features', 'nix-command flakes'];

export interface CliRun {
  events: EvalEvent[];
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
}

/**
 * Runs the built `evix` as its installed links do: the launcher, as a
 * program; behind `under` (a command that runs the rest of its line, such
 * as `unshare …`) when given.
 */
export async function runCli(args: string[], options: { cwd?: string; env?: Record<string, string>; under?: string[] } = {}): Promise<CliRun> {
  const [command, ...rest] = [...(options.under ?? []), CLI, ...args];
  const result = await execa(command!, rest, { cwd: options.cwd ?? ROOT, env: options.env, reject: false });
  const events = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as EvalEvent);
  return { events, stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

export function config(input: EvalConfig['input'], overrides: Partial<EvalConfig> = {}): EvalConfig {
  return completeConfig({ workdir: ROOT, ...overrides, input });
}

/** Runs the library and collects every event (options.onEvent sees each one too). */
export async function collect(
  cfg: EvalConfig,
  workers = 1,
  options: Partial<EvaluateOptions> = {},
): Promise<{ events: EvalEvent[]; fatal: RunFailure | undefined; memory: RunResult['memory'] }> {
  const events: EvalEvent[] = [];
  const also = options.onEvent;
  const result = await evaluate(cfg, {
    ...options,
    workers,
    onEvent: (e) => {
      events.push(e);
      also?.(e);
    },
  });
  return { events, fatal: result.fatal, memory: result.memory };
}

/** The stream for chunks without a part, which are answered at once, never streamed (Worker.evaluate). */
export const unstreamed = (): void => {
  throw new Error('a chunk without a part was streamed');
};

export const derivations = (events: EvalEvent[]) => events.filter(isDerivationEvent);
export const errors = (events: EvalEvent[]) => events.filter(isErrorEvent);
export const byAttr = <T extends { attr: string }>(events: T[]) => new Map(events.map((e) => [e.attr, e]));

/** Derivations keyed by attr, as sorted `attr drvPath` lines: the identity of a run's result. */
export function derivationSet(events: EvalEvent[]): string[] {
  return derivations(events)
    .map((d) => `${d.attr} ${d.drvPath} ${JSON.stringify(d.outputs)}`)
    .sort();
}

/** A .drv as `nix show-derivation` describes it, in one shape whatever the Nix version. */
export interface ShownDerivation {
  outputs: Record<string, string>;
  inputDrvs: Record<string, string[]>;
  system: string;
  env: Record<string, string>;
}

interface ShownByNix {
  outputs: Record<string, { path: string }>;
  inputDrvs?: Record<string, string[]>;
  inputs?: { drvs: Record<string, { outputs: string[] }> };
  platform?: string;
  system?: string;
  env: Record<string, string>;
}

const inStore = (path: string) => (path.startsWith('/') ? path : `/nix/store/${path}`);

/**
 * `nix show-derivation` of each path. Nix 2.8 keys its answer by path;
 * 2.34 wraps it in `derivations`, keyed by base name, with base names for
 * outputs and `inputs.drvs` for inputDrvs.
 */
export async function showDerivations(drvPaths: string[]): Promise<Map<string, ShownDerivation>> {
  const { stdout } = await execa('nix', [...FLAKES, 'show-derivation', ...drvPaths]);
  const parsed = JSON.parse(stdout) as { derivations?: Record<string, ShownByNix> } & Record<string, ShownByNix>;
  const byName = parsed.derivations ?? parsed;
  return new Map(
    Object.entries(byName).map(([name, d]) => [
      inStore(name),
      {
        outputs: Object.fromEntries(Object.entries(d.outputs).map(([output, o]) => [output, inStore(o.path)])),
        inputDrvs: d.inputDrvs ?? Object.fromEntries(Object.entries(d.inputs?.drvs ?? {}).map(([drv, i]) => [inStore(drv), i.outputs])),
        system: d.platform ?? d.system ?? '',
        env: d.env,
      },
    ]),
  );
}

/** Nix's own drvPath for a derivation event. */
export type Instantiate = (d: DerivationEvent) => Promise<string>;

/** `nix-instantiate --expr` of the event's attribute under `rootExpr`. */
export function viaNixInstantiate(rootExpr: string, cwd = ROOT): Instantiate {
  return async (d) => {
    const select = d.attrPath.map((n) => `.${nixString(n)}`).join('');
    const { stdout } = await execa('nix-instantiate', ['--expr', `let root = ${rootExpr}; in root${select}`], { cwd });
    return stdout.trim();
  };
}

/** `nix eval --raw FLAKE#attr.drvPath` (with extra flags such as --override-input). */
export function viaNixEval(flakeAttr: string, extraArgs: string[] = []): Instantiate {
  return async (d) => {
    const attr = [flakeAttr, ...d.attrPath.map((n) => `"${n}"`), 'drvPath'].join('.');
    const { stdout } = await execa('nix', [...FLAKES, 'eval', '--raw', ...extraArgs, attr]);
    return stdout.trim();
  };
}

/**
 * Checks each derivation event against Nix: Nix's own instantiation of the
 * same attribute must give the same .drv, and `nix show-derivation` of it the
 * same outputs, system and name.
 */
export async function expectMatchesNix(instantiate: Instantiate, drvs: DerivationEvent[]): Promise<void> {
  expect(drvs.length).toBeGreaterThan(0);
  const queue = new PQueue({ concurrency: 4 });
  const instantiated = await Promise.all(drvs.map((d) => queue.add(() => instantiate(d))));
  expect(drvs.map((d) => d.drvPath)).toEqual(instantiated);
  const shown = await showDerivations(instantiated);
  for (const d of drvs) {
    const nix = shown.get(d.drvPath)!;
    expect({ attr: d.attr, outputs: d.outputs, system: d.system, name: d.name }).toEqual({
      attr: d.attr,
      outputs: nix.outputs,
      system: nix.system,
      name: nix.env.name,
    });
  }
}

/**
 * The first line of the message Nix itself gives for an evaluation that
 * fails (`nix-instantiate --eval --strict ARGS`), in 2.8's layout whatever
 * the version: what an error event should start with. Messages differ
 * between Nix versions (an `assert` on 2.8 reads `assertion … failed`,
 * on 2.26 it says why the condition is false).
 */
export async function nixMessage(args: string[]): Promise<string> {
  const { stderr } = await execa('nix-instantiate', ['--eval', '--strict', ...args], { reject: false });
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith('error:'));
  if (at === -1) throw new Error(`nix-instantiate ${args.join(' ')} did not fail`);
  return messageFirst(lines.slice(at), false)[0]!.replace(/^error: /, '');
}

let stackOverflowKills: Promise<boolean> | undefined;

/**
 * Whether this machine's `nix repl` dies of a stack overflow (Nix 2.8) or
 * reports it as an error and goes on (newer Nix, with max-call-depth).
 */
export function replDiesOfStackOverflow(): Promise<boolean> {
  stackOverflowKills ??= execa('nix', ['repl'], { input: 'let f = n: 1 + f (n + 1); in f 0\n"survived"\n', reject: false, all: true }).then(
    (run) => !String(run.all).includes('survived'),
  );
  return stackOverflowKills;
}
