/**
 * The Evaluator: one persistent `nix repl` child that answers attribute paths
 * with events. Defines the helpers and the root once per child, so the values
 * the attributes share (a package set's fixpoint) are forced once per child,
 * not once per attribute.
 *
 * The child is replaced when its resident memory passes the limit after an
 * item (Nix frees memory only by exiting) and when it dies. Unlike
 * nix-eval-jobs' workers the child keeps Nix's garbage collector on
 * (GC_DONT_GC=1 measured slower here on the heavy benchmark, and larger).
 * An item whose child died while evaluating it is tried once more on a
 * fresh child, so a child killed from outside loses nothing; if that child
 * dies too, the attribute itself kills Nix (a stack overflow, say) and
 * becomes an error event. Items queued behind it are simply sent again.
 *
 * Requests are pipelined: evaluate() may be called again before earlier
 * calls resolve, and the repl works through them in order. This hides the
 * round trip between the processes, which otherwise costs more than
 * evaluating a small attribute.
 */
import { readFile } from 'node:fs/promises';
import type { WorkerConfig } from '../config.js';
import type { WorkResult } from '../events.js';
import { InputError } from '../failures.js';
import type { Logger } from '../log.js';
import { formatAttrPath, type AttrPath } from '../nix/syntax.js';
import { parseInputDrvs } from '../nix/derivation-file.js';
import { NixRepl, ReplExitedError } from './nix-repl.js';
import { describeRequest, setupLines } from './nix-helpers.js';
import { parsePrintedString, splitOutput, type ReplResponse } from './repl-framer.js';

export interface EvaluateOutcome {
  result: WorkResult;
  /** The child was replaced after this item because it passed the memory limit. */
  restarted: boolean;
}

interface Description {
  kind: 'drv' | 'attrs' | 'skip';
  name?: string;
  system?: string;
  drvPath?: string;
  outputs?: Record<string, string>;
  requiredSystemFeatures?: string[];
  meta?: Record<string, unknown>;
  extraValue?: unknown;
  constituents?: string[];
  namedConstituents?: string[];
  globConstituents?: boolean;
  attrs?: string[];
  recurse?: boolean;
}

export class Evaluator {
  readonly #config: WorkerConfig;
  readonly #log: Logger;
  #repl: NixRepl | undefined;
  #starting: Promise<NixRepl> | undefined;
  #closed = false;
  #retiring: Promise<void> | undefined;
  #retired: NixRepl | undefined;

  constructor(config: WorkerConfig, log: Logger) {
    this.#config = config;
    this.#log = log;
  }

  /** Starts the child and defines the root; throws InputError when the input cannot be set up (a bad --arg, an unreadable input). */
  async start(): Promise<void> {
    await this.#ready();
  }

  async evaluate(path: AttrPath): Promise<EvaluateOutcome> {
    let response: ReplResponse | undefined;
    let crashed = false;
    while (response === undefined) {
      try {
        response = await this.#request(path);
      } catch (error) {
        if (!(error instanceof ReplExitedError)) throw error;
        if (!error.wasRunning) continue;
        if (crashed) return { result: errorEvent(path, `nix evaluator crashed: ${error.detail}`), restarted: true };
        crashed = true;
        this.#log.warn({ attr: formatAttrPath(path), reason: error.detail }, 'nix evaluator died; retrying on a fresh one');
      }
    }
    const result = await this.#toResult(path, response);
    return { result, restarted: this.#recycleIfLarge() };
  }

  /** The pid of the current child, if one runs (tests kill it to prove recovery). */
  get childPid(): number | undefined {
    return this.#repl?.pid;
  }

  async close(): Promise<void> {
    this.#closed = true;
    // A start that failed left no child to close; its failure went to whoever awaited it.
    const repl = this.#repl ?? (await this.#starting?.catch(() => undefined));
    this.#repl = undefined;
    this.#starting = undefined;
    await Promise.all([repl?.close(), this.#retired?.close()]);
  }

  async #request(path: AttrPath): Promise<ReplResponse> {
    const repl = await this.#ready();
    return repl.request(describeRequest(path));
  }

  #ready(): Promise<NixRepl> {
    if (this.#closed) return Promise.reject(new Error('evaluator is closed'));
    if (this.#repl && !this.#repl.exited) return Promise.resolve(this.#repl);
    this.#repl = undefined;
    this.#starting ??= this.#spawn().finally(() => {
      this.#starting = undefined;
    });
    return this.#starting;
  }

  async #spawn(): Promise<NixRepl> {
    // A child being retired for its memory finishes its queue first, so two
    // large children never live at once.
    await this.#retiring;
    const config = this.#config;
    const repl = new NixRepl({ args: replArgs(config), cwd: config.workdir });
    const lines = setupLines(config.input, config.autoArgs, { meta: config.meta, forceRecurse: config.forceRecurse, select: config.select, apply: config.apply });
    try {
      for (const line of lines) {
        const { error } = splitOutput((await repl.request(line)).text);
        if (error !== undefined) throw new InputError(firstLine(error));
      }
    } catch (error) {
      await repl.close();
      if (error instanceof ReplExitedError) throw new Error(`could not start the nix evaluator: ${error.detail}`, { cause: error });
      throw error;
    }
    this.#log.debug({ pid: repl.pid }, 'nix evaluator started');
    this.#repl = repl;
    return repl;
  }

  async #toResult(path: AttrPath, response: ReplResponse): Promise<WorkResult> {
    const { error, log } = splitOutput(response.text);
    for (const line of log) this.#log.info({ attr: formatAttrPath(path) }, line);
    if (error !== undefined) return errorEvent(path, error);
    const json = response.value === undefined ? undefined : parsePrintedString(response.value);
    if (json === undefined) return errorEvent(path, `unexpected output from nix repl: ${response.value ?? '(none)'}`);
    const d = JSON.parse(json) as Description;
    const attr = formatAttrPath(path);
    const attrPath = [...path];
    if (d.kind === 'attrs' && d.recurse) return { attr, attrPath, attrs: d.attrs ?? [] };
    if (d.kind !== 'drv') return { skip: true, attrPath };
    const event: WorkResult = {
      attr,
      attrPath,
      name: d.name ?? '',
      system: d.system ?? 'unknown',
      drvPath: d.drvPath ?? '',
      outputs: d.outputs ?? {},
      requiredSystemFeatures: d.requiredSystemFeatures ?? [],
    };
    if (d.meta !== undefined) event.meta = d.meta;
    if (this.#config.showInputDrvs) {
      try {
        event.inputDrvs = parseInputDrvs(await readFile(event.drvPath, 'utf8'));
      } catch (e) {
        return errorEvent(path, `cannot read input derivations of ${event.drvPath}: ${(e as Error).message}`);
      }
    }
    if (d.constituents !== undefined) event.constituents = d.constituents;
    if (d.namedConstituents !== undefined) event.namedConstituents = d.namedConstituents;
    if (d.globConstituents !== undefined) event.globConstituents = d.globConstituents;
    if ('extraValue' in d) event.extraValue = d.extraValue;
    return event;
  }

  #recycleIfLarge(): boolean {
    const repl = this.#repl;
    const rss = repl?.residentMiB();
    if (!repl || rss === undefined || rss <= this.#config.maxMemoryMiB) return false;
    this.#log.debug({ pid: repl.pid, rssMiB: Math.round(rss) }, 'nix evaluator passed the memory limit; restarting');
    this.#repl = undefined;
    this.#retired = repl;
    this.#retiring = repl.idle().then(() => repl.close());
    return true;
  }
}

function errorEvent(path: AttrPath, error: string): WorkResult {
  return { attr: formatAttrPath(path), attrPath: [...path], error, fatal: false };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/**
 * Flags for `nix repl`. Nix evaluates flakes in pure mode, but the 2.8 repl
 * forces pure-eval off whatever it is told (checked), so a flake is
 * evaluated in restricted mode instead, the nearest the repl allows:
 * getEnv gives "", files outside the store and the search path are
 * forbidden; only builtins.currentSystem and currentTime stay visible.
 */
export function replArgs(config: WorkerConfig): string[] {
  const args: string[] = [];
  if (config.input.kind === 'flake') {
    args.push('--extra-experimental-features', 'nix-command flakes');
    if (!config.impure) args.push('--option', 'restrict-eval', 'true');
  }
  if (config.impure) args.push('--impure');
  if (config.showTrace) args.push('--show-trace');
  for (const p of config.includePaths) args.push('-I', p);
  for (const [key, value] of config.nixOptions) args.push('--option', key, value);
  return args;
}
