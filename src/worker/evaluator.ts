/**
 * The Evaluator: one persistent `nix repl` child that answers chunks of
 * attributes with results. Defines the helpers and the root once per child,
 * so the values the attributes share (a package set's fixpoint) are forced
 * once per child, not once per attribute.
 *
 * A chunk's siblings go in one request (nix-helpers' `chunk`), which costs
 * about as much as the attributes themselves: one request per attribute
 * cost several times more than evaluating a small one. A request that
 * fails as a whole is split in halves down to single attributes, and a
 * single attribute is asked for by name exactly as before chunks existed,
 * so an error event carries the text Nix gives for that attribute alone.
 *
 * The child is replaced when its resident memory passes the limit after a
 * chunk (Nix frees memory only by exiting) and when it dies. Unlike
 * nix-eval-jobs' workers the child keeps Nix's garbage collector on
 * (GC_DONT_GC=1 measured slower here on the heavy benchmark, and larger).
 * A chunk whose child died is split; a single attribute whose child died
 * is tried again on a fresh child until its deaths count as its own (two
 * when Nix exited by itself, as on a stack overflow; eight, after growing
 * pauses, when a signal killed it, which may come from outside): only then
 * is it an error event, saying how the evaluator died. A child killed
 * while starting is replaced the same way. Requests queued behind a death
 * are simply sent again. So a child killed from outside loses nothing.
 *
 * With a MemoryBudget, every request waits for the budget to admit it; a
 * child the budget kills mid-request retries its attribute alone, with the
 * whole budget, and only an attribute that passes it even so is an error.
 *
 * Requests are pipelined: evaluate() may be called again before earlier
 * calls resolve, and the repl works through them in order, which hides the
 * round trip between the processes.
 *
 * sweep() answers large shares of cheap attributes without the repl, in
 * one-shot read-only evaluations checked against the store (see
 * src/worker/sweep.ts and docs/architecture.md, "Sweeps").
 */
import { readFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import type { WorkerConfig } from '../config.js';
import { isAttrsetEvent, type AttrsetResult, type DerivationEvent, type WorkResult } from '../events.js';
import { chunkPaths, type ChunkAnswer, type WorkChunk, type WorkUnit } from '../work.js';
import { EVALUATOR_DIED, InputError } from '../failures.js';
import type { Logger } from '../log.js';
import { childPath, formatAttrPath, type AttrPath } from '../nix/syntax.js';
import { parseInputDrvs } from '../nix/derivation-file.js';
import type { BudgetSeat, MemoryBudget } from './memory-budget.js';
import { NixRepl, ReplExitedError, type ReplExit } from './nix-repl.js';
import { SweepIncompleteError } from '../master/worker.js';
import { nixDialect, type NixDialect } from '../nix/dialect.js';
import { DESCRIBED, FETCH_FLAKE_SOURCE, chunkRequest, describeRequest, setupLines, sweepExpression, type ChunkDescription, type DescribeOptions, type Description, type SiblingRange, type SweepPart } from './nix-helpers.js';
import { parsePrintedJson, splitOutput, type ReplResponse } from './repl-framer.js';
import { StoreValidity } from '../nix/store-validity.js';
import { Sweep, type SweepEnd } from './sweep.js';
import { SweepLevels, childItems, itemRanges, itemUnits, type SweepItem } from './sweep-levels.js';

export interface EvaluateOutcome {
  /** The chunk's answer (see ChunkAnswer). */
  results: ChunkAnswer;
  /** The child was replaced after this chunk because it passed the memory limit. */
  restarted: boolean;
}

/**
 * A sweep pays an evaluation of the root, so when fewer attributes than
 * this are left to sweep again they go to chunks instead (flat's root of
 * 100k names costs about what 20k of its attributes do; a small tree's
 * root almost nothing).
 */
const SWEEP_MIN_ATTRS = 512;
/** Descriptions per line a sweep prints: each line costs a write and a parse. */
const SWEEP_GROUP = 256;
/** Sweeps of one chunk that may die before what is left goes to chunks. */
const SWEEP_DEATHS = 2;
/**
 * Derivations a read-only sweep checks before deciding the store lacks most
 * of them (more missing than half of those checked): from then on this
 * evaluator's sweeps write, since each missing one would be evaluated a
 * second time. Sets do not count, so a tree full of them switches as soon
 * as a flat set does.
 */
const SWEEP_SWITCH_AFTER = 256;
/** The walking budget of the repl requests that finish what a part's sweep left, when it is answered by evaluate(). */
const LEFTOVER_BUDGET = 1024;

/** What one sweep process answered, and what it left. */
interface SweepRun {
  /** Results that come later than their line: reading input derivations (--show-input-drvs). */
  later: Array<Promise<WorkResult>>;
  /** Attributes whose evaluation threw (caught by tryEval): a chunk gives their error text. */
  retry: SweepItem[];
  /** Derivations a read-only sweep found the store without. */
  missing: SweepItem[];
  /** Attributes it did not get to. */
  remaining: SweepItem[];
  end: SweepEnd;
}

/** The position of a part's root, which is no sibling of anything a request could name by position. */
const ROOT_INDEX = -1;

type PartUnit = Extract<WorkUnit, { kind: 'part' }>;

/** Where a sweep starts: sibling ranges, or a part of a root (see sweepExpression). */
type SweepStart = { ranges: SiblingRange[] } | { part: SweepPart };

/** Where a sweep's results go as they come; a promise returned holds it back until the consumer takes more. */
type Deliver = (results: WorkResult[]) => Promise<void> | undefined;

/** Why evix stops a read-only sweep whose derivations the store mostly lacks. */
const WRITE_INSTEAD = 'the store lacks most of its derivations; sweeping again with writes';

/** Siblings as the chunk names them (their paths end in their names), with the ranges the request asks for. */
interface SiblingsPart {
  ranges: SiblingRange[];
  paths: AttrPath[];
}

export class Evaluator {
  readonly #config: WorkerConfig;
  readonly #log: Logger;
  #repl: NixRepl | undefined;
  #starting: Promise<NixRepl> | undefined;
  #closed = false;
  #retiring: Promise<void> | undefined;
  #retired: NixRepl | undefined;
  readonly #seat: BudgetSeat | undefined;
  /** The sweep running now, if one is (it counts against the memory budget). */
  #sweep: Sweep | undefined;
  /** The local store's database, opened on the first read-only sweep; null when there is none to read. */
  #validity: StoreValidity | null | undefined;
  /** Sweeps write: the store lacked most derivations of a read-only one. */
  #sweepsWrite = false;
  /** Sweeps died before describing anything, in a row. */
  #silentDeaths = 0;
  /** Sweeps keep dying without describing anything (they cannot evaluate what the repl can): no more sweeps. */
  #sweepsFail = false;

  /** `budget`: the memory budget this evaluator shares with others (see MemoryBudget). */
  constructor(config: WorkerConfig, log: Logger, budget?: MemoryBudget) {
    this.#config = config;
    this.#log = log;
    // A retired child still answers what was sent to it, so it counts until it is gone.
    const children = () => [this.#repl, this.#retired, this.#sweep].filter((child) => child !== undefined);
    this.#seat = budget?.join({
      residentMiB: () => {
        const sizes = children().map((repl) => repl.residentMiB() ?? 0);
        return sizes.length === 0 ? undefined : sizes.reduce((a, b) => a + b);
      },
      killForMemory: (residentMiB, limitMiB) => {
        const detail = `${Math.round(residentMiB)} MiB resident, past the ${limitMiB} MiB the evaluators may use together (--max-memory each)`;
        for (const repl of children()) repl.killForMemory(detail);
      },
      releaseMemory: () => {
        if (this.#repl) this.#retire(this.#repl);
      },
    });
  }

  /** Starts the child and defines the root; throws InputError when the input cannot be set up (a bad --arg, an unreadable input). */
  async start(): Promise<void> {
    await this.#ready();
  }

  /**
   * Answers a chunk: its paths one request each, its siblings in one
   * request that may walk inside the sets among them while the answer stays
   * within `budget` attributes, a part in a sweep whose results go to
   * `stream` as they come (see #sweptPart).
   */
  async evaluate(chunk: WorkChunk, budget: number, stream: (results: WorkResult[]) => void): Promise<EvaluateOutcome> {
    const answers: Array<Promise<WorkResult[]>> = [];
    const siblings: Array<Extract<WorkUnit, { kind: 'siblings' }>> = [];
    for (const unit of chunk) {
      if (unit.kind === 'path') answers.push(this.#single(unit.path).then((r) => [r]));
      else if (unit.kind === 'part') answers.push(this.#sweptPart([unit], stream));
      else siblings.push(unit);
    }
    if (siblings.length > 0) answers.push(this.#siblings(siblingsPart(siblings), budget));
    const results = (await Promise.all(answers)).flat();
    return { results, restarted: this.#recycleIfLarge() };
  }

  /**
   * Answers a large chunk and everything under it in sweeps (see
   * src/worker/sweep.ts), sweeping again what a dead sweep left and, with
   * writes, what a read-only one found missing. Results go to `deliver` as
   * they come; the outcome holds those that came later (--show-input-drvs
   * reads files) and `left`: what sweeps could not answer (errors, whose
   * text a chunk gives; the group a sweep died on; what remained after
   * --max-memory), for the master to hand out as chunks. Once something is
   * delivered, a failure is a SweepIncompleteError naming what is left.
   */
  async sweep(chunk: WorkChunk, deliver: Deliver): Promise<EvaluateOutcome & { left: WorkUnit[] }> {
    const items: SweepItem[] = [];
    const ranges: SiblingRange[] = [];
    const singles: Array<Promise<WorkResult>> = [];
    const parts: PartUnit[] = [];
    for (const unit of chunk) {
      if (unit.kind === 'path') singles.push(this.#single(unit.path));
      else if (unit.kind === 'part') parts.push(unit);
      else {
        ranges.push({ parent: unit.parent, from: unit.from, count: unit.names.length });
        unit.names.forEach((name, i) => items.push({ path: childPath(unit.parent, name), index: unit.from + i }));
      }
    }
    // Before anything is delivered, so that a failure here leaves the whole chunk to try again.
    const results = await Promise.all(singles);
    await deliver(results);
    const sweeps: Array<[SweepItem[], SweepStart]> = parts.map((part) => [[{ path: part.path, index: ROOT_INDEX }], { part }]);
    if (items.length > 0) sweeps.push([items, { ranges }]);
    const later: WorkResult[] = [];
    const left: SweepItem[] = [];
    for (const [swept, start] of sweeps) {
      const answered = await this.#sweepItems(swept, start, deliver);
      later.push(...answered.later);
      left.push(...answered.left);
    }
    return { results: later, left: itemUnits(left), restarted: this.#recycleIfLarge() };
  }

  /**
   * A part handed out as a chunk (evaluate()), swept: its results go to
   * `stream` as they come, and what the sweep leaves, or what is unanswered
   * after it failed, is answered here as chunks and streamed too. So only a
   * failure to answer those rejects, and the master tries the whole chunk
   * again (filtering out what was streamed: see Scheduler.stream).
   */
  async #sweptPart(chunk: WorkChunk, stream: (results: WorkResult[]) => void): Promise<WorkResult[]> {
    const deliver = (results: WorkResult[]): undefined => {
      if (results.length > 0) stream(results);
    };
    let rest: WorkUnit[];
    try {
      const { results, left } = await this.sweep(chunk, deliver);
      deliver(results);
      rest = left;
    } catch (error) {
      if (!(error instanceof SweepIncompleteError)) throw error;
      rest = error.unanswered.map((path) => ({ kind: 'path', path }));
    }
    if (rest.length > 0) deliver((await this.evaluate(rest, LEFTOVER_BUDGET, stream)).results);
    return [];
  }

  /** The pid of the child evaluating now, a sweep's or else the repl's, if one runs (tests kill it to prove recovery). */
  get childPid(): number | undefined {
    return this.#sweep?.pid ?? this.#repl?.pid;
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#seat?.leave();
    const sweep = this.#sweep;
    sweep?.stop('the evaluator is closing');
    this.#validity?.close();
    this.#validity = null;
    // A start that failed left no child to close; its failure went to whoever awaited it.
    const repl = this.#repl ?? (await this.#starting?.catch(() => undefined));
    this.#repl = undefined;
    this.#starting = undefined;
    await Promise.all([repl?.close(), this.#retired?.close(), sweep?.ended]);
  }

  /**
   * Sweeps `items` (given as `first`: their ranges, or a part of a root
   * whose one item is the root) until what is left is for chunks. Returns
   * the results not delivered, and what is left.
   */
  async #sweepItems(items: SweepItem[], first: SweepStart, deliver: Deliver): Promise<{ later: WorkResult[]; left: SweepItem[] }> {
    const later: Array<Promise<WorkResult>> = [];
    const forChunks: SweepItem[] = [];
    const part = 'part' in first ? first.part : undefined;
    let pending = items;
    let start: SweepStart | undefined = first;
    let deaths = 0;
    let writes = false;
    while (pending.length > 0) {
      if (start === undefined && (pending.length < SWEEP_MIN_ATTRS || deaths > SWEEP_DEATHS || this.#sweepsFail || this.#closed)) {
        forChunks.push(...pending);
        break;
      }
      const run = await this.#sweepOnce(pending, start ?? { ranges: itemRanges(pending) }, writes || this.#sweepsWrite, deliver);
      start = undefined;
      later.push(...run.later);
      forChunks.push(...run.retry);
      const { end } = run;
      if (part && run.remaining[0]?.index === ROOT_INDEX) {
        // It ended before describing the root it takes a part of: the repl lists the root, and the part's children are swept as any others.
        if (!end.complete) deaths++;
        pending = await this.#partChildren(part, deliver);
        continue;
      }
      if (end.complete && run.remaining.length > 0) {
        // It printed less than it was asked for: nothing says it would do better again.
        this.#log.warn({ left: run.remaining.length }, 'a sweep ended without describing everything; chunks finish its part');
        this.#sweepsFail = true;
        pending = run.remaining.concat(run.missing);
      } else if (end.complete || end.stoppedFor === WRITE_INSTEAD) {
        pending = run.missing.concat(run.remaining);
        writes = true;
      } else if (end.stoppedFor !== undefined) {
        this.#log.debug({ reason: end.stoppedFor }, 'sweep stopped; chunks finish its part');
        forChunks.push(...run.remaining, ...run.missing);
        pending = [];
      } else {
        deaths++;
        // Twice in a row without printing anything: more likely sweeps cannot evaluate this input than a bad first attribute.
        this.#silentDeaths = run.remaining.length === pending.length ? this.#silentDeaths + 1 : 0;
        if (this.#silentDeaths >= SWEEP_DEATHS) this.#sweepsFail = true;
        this.#log.debug({ reason: end.detail, left: run.remaining.length }, 'sweep died; chunks take the attributes it was on');
        // The attribute that ended it is among the next it would have printed.
        forChunks.push(...run.remaining.slice(0, SWEEP_GROUP));
        pending = run.remaining.slice(SWEEP_GROUP).concat(run.missing);
        writes ||= run.missing.length > 0;
      }
    }
    const left = forChunks.filter((item) => item.index !== ROOT_INDEX);
    // A root the sweep threw on or found missing (a derivation) has no children; part 0 answers it.
    if (part?.part === 0 && left.length < forChunks.length) {
      try {
        await deliver([await this.#single(part.path)]);
      } catch (error) {
        throw new SweepIncompleteError(`could not finish a sweep: ${(error as Error).message}`, [part.path, ...left.map((item) => item.path)], { cause: error });
      }
    }
    return { later: await Promise.all(later), left };
  }

  /**
   * The children a part takes, from the repl's listing of its root (a
   * sweep that ended before describing the root, or whose root is a
   * derivation it found missing): part 0 delivers the root itself.
   */
  async #partChildren(part: SweepPart, deliver: Deliver): Promise<SweepItem[]> {
    const root = await this.#single(part.path);
    if (isAttrsetEvent(root)) root.childrenAnswered = true;
    if (part.part === 0) await deliver([root]);
    return isAttrsetEvent(root) ? childItems(part.path, root.attrs, part) : [];
  }

  /**
   * One sweep process over `items`, started as `start` says; `writes`: it
   * writes .drv files instead of leaving them to be checked. Results go to
   * `deliver` a line at a time. Of a part past the first, the root's own
   * description only tells which children are its own.
   */
  async #sweepOnce(items: SweepItem[], start: SweepStart, writes: boolean, deliver: Deliver): Promise<SweepRun> {
    const config = this.#config;
    const validity = writes ? undefined : this.#storeValidity();
    const readOnly = validity !== undefined;
    const part = 'part' in start ? start.part : undefined;
    const levels = new SweepLevels(items, part);
    const run: Omit<SweepRun, 'remaining' | 'end'> = { later: [], retry: [], missing: [] };
    let skipRoot = part !== undefined && part.part > 0;
    let checked = 0;
    let missing = 0;
    const marker = `evix-sweep-${Math.random().toString(36).slice(2)}:`;
    const dialect = config.input.kind === 'flake' ? await nixDialect() : undefined;
    const expression = sweepExpression(config.input, config.autoArgs, describeOptions(config), { start, readOnly, marker, group: SWEEP_GROUP });
    const attr = formatAttrPath(items[0]!.path);
    this.#log.debug({ attr, attributes: part ? `part ${part.part} of ${part.parts}` : items.length, writes: !readOnly }, 'sweeping');
    await this.#seat?.admit(false);
    try {
      const sweep = new Sweep({
        args: replArgs(config, dialect).filter((arg) => arg !== '--impure'),
        cwd: config.workdir,
        expression,
        writes: !readOnly,
        marker,
        onDescriptions: (descriptions) => {
          let pairs = levels.take(descriptions);
          if (skipRoot) {
            pairs = pairs.slice(1);
            skipRoot = false;
          }
          const drvPaths = validity ? pairs.filter(([, d]) => d[0] === DESCRIBED.drv).map(([, d]) => d[3] as string) : [];
          const absent = validity?.invalid(drvPaths);
          const now: WorkResult[] = [];
          for (const [item, d] of pairs) {
            if (d[0] === DESCRIBED.retry) run.retry.push(item);
            else if (d[0] === DESCRIBED.drv && absent?.has(d[3])) run.missing.push(item);
            else {
              const result = this.#result(item.path, d);
              if (result instanceof Promise) {
                run.later.push(result);
                continue;
              }
              if (d[0] === DESCRIBED.walk) (result as AttrsetResult).childrenAnswered = true;
              now.push(result);
            }
          }
          const hold = deliver(now);
          if (absent === undefined) return hold;
          checked += drvPaths.length;
          missing += absent.size;
          if (checked >= SWEEP_SWITCH_AFTER && missing * 2 > checked) {
            this.#sweepsWrite = true;
            sweep.stop(WRITE_INSTEAD);
          }
          return hold;
        },
        onLog: (line) => this.#log.info({ attr }, line),
      });
      this.#sweep = sweep;
      // While Nix starts, before its first line needs it.
      validity?.connect();
      const watch = setInterval(() => {
        const rss = sweep.residentMiB();
        if (rss !== undefined && rss > config.maxMemoryMiB) sweep.killForMemory(`${Math.round(rss)} MiB resident, past the ${config.maxMemoryMiB} MiB limit (--max-memory)`);
      }, SWEEP_MEMORY_POLL_MS);
      const end = await sweep.ended;
      clearInterval(watch);
      this.#sweep = undefined;
      return { ...run, remaining: levels.remaining(), end };
    } finally {
      this.#seat?.settled();
    }
  }

  /** The store's database for read-only sweeps (this process's one connection, see StoreValidity); undefined when sweeps must write. */
  #storeValidity(): StoreValidity | undefined {
    if (this.#validity === undefined) this.#validity = StoreValidity.open(this.#config) ?? null;
    return this.#validity ?? undefined;
  }

  /**
   * One attribute alone, by name: a root, or a sibling whose chunk failed.
   * Its error text is the one Nix gives for that attribute by itself.
   */
  async #single(path: AttrPath): Promise<WorkResult> {
    const response = await this.#request(describeRequest(path), path);
    if ('crash' in response) return errorEvent(path, deathMessage(response.crash, response.deaths));
    const { error } = this.#splitLogged(response, path);
    if (error !== undefined) return errorEvent(path, error);
    const json = response.value === undefined ? undefined : parsePrintedJson(response.value);
    if (json === undefined) return errorEvent(path, `unexpected output from nix repl: ${response.value ?? '(none)'}`);
    return this.#result(path, json as Description);
  }

  /**
   * Siblings in one request. A request that fails as a whole (an error
   * tryEval cannot catch, a child that died) is split in two, down to single
   * attributes, so each error lands on its own attribute.
   */
  async #siblings(part: SiblingsPart, budget: number): Promise<WorkResult[]> {
    const first = part.paths[0]!;
    const response = await this.#request(chunkRequest(part.ranges, budget), first, part.paths.length > 1);
    if ('crash' in response) return this.#split(part, budget);
    const { error } = this.#splitLogged(response, first);
    if (error !== undefined) return this.#split(part, budget);
    const json = response.value === undefined ? undefined : parsePrintedJson(response.value);
    const answer = json as ChunkDescription | undefined;
    if (answer?.levels?.[0]?.length !== part.paths.length) return this.#split(part, budget);
    if (answer.names.length !== part.paths.length || part.paths.some((path, i) => path.at(-1) !== answer.names[i])) {
      this.#log.warn({ attr: formatAttrPath(first) }, 'the evaluator lists the attributes of a set differently from the master; asking for them by name');
      return Promise.all(part.paths.map((path) => this.#single(path)));
    }
    return this.#unfold(part.paths, answer.levels);
  }

  #split(part: SiblingsPart, budget: number): Promise<WorkResult[]> {
    if (part.paths.length === 1) return this.#single(part.paths[0]!).then((r) => [r]);
    const [left, right] = halves(part);
    return Promise.all([this.#siblings(left, budget), this.#siblings(right, budget)]).then(([l, r]) => l.concat(r));
  }

  /** Results from the levels of a chunk's answer (see ChunkDescription); siblings that threw are asked for alone. */
  async #unfold(top: AttrPath[], levels: Description[][]): Promise<WorkResult[]> {
    const results: Array<WorkResult | Promise<WorkResult>> = [];
    let paths = top;
    for (let depth = 0; depth < levels.length; depth++) {
      const level = levels[depth]!;
      const walked = depth + 1 < levels.length;
      const next: AttrPath[] = [];
      for (let i = 0; i < level.length; i++) {
        const d = level[i]!;
        const path = paths[i]!;
        if (d[0] === DESCRIBED.retry) {
          results.push(this.#single(path));
          continue;
        }
        const result = this.#result(path, d);
        if (walked && d[0] === DESCRIBED.walk) {
          (result as AttrsetResult).childrenAnswered = true;
          for (const name of d[1]) next.push(childPath(path, name));
        }
        results.push(result);
      }
      paths = next;
    }
    return Promise.all(results);
  }

  /**
   * Sends a request, once the memory budget admits it; `crash` says how the
   * child died if it died while evaluating it, `deaths` how many times. A
   * request queued behind the one that killed the child is sent again on a
   * fresh child. A chunk (`isChunk`) that killed its child is split instead
   * (see #siblings), which finds the attribute that kills it. A single
   * attribute is tried again until its deaths count as its own (see
   * SELF_DEATHS), so a child killed from outside loses nothing; one killed
   * for passing the budget is tried again alone, with the whole budget, and
   * fails only if it passes it even so.
   */
  async #request(line: string, path: AttrPath, isChunk = false): Promise<ReplResponse | { crash: ReplExit; deaths: number }> {
    let alone = false;
    for (let deaths = 1; ; ) {
      await this.#seat?.admit(alone);
      try {
        const repl = await this.#ready();
        return await repl.request(line);
      } catch (error) {
        if (!(error instanceof ReplExitedError)) throw error;
        if (!error.wasRunning) continue;
        const { exit } = error;
        if (exit.overBudget) {
          if (isChunk || alone) return { crash: exit, deaths };
          this.#log.warn({ attr: formatAttrPath(path), reason: exit.detail }, 'the evaluators passed their memory budget; retrying this attribute alone');
          alone = true;
          continue;
        }
        if (isChunk || deaths >= deathsToBlame(exit)) return { crash: exit, deaths };
        this.#log.warn({ attr: formatAttrPath(path), reason: exit.detail, deaths }, 'nix evaluator died; retrying on a fresh one');
        if (exit.signal) await sleep(retryPauseMs(deaths));
        deaths++;
      } finally {
        this.#seat?.settled();
      }
    }
  }

  /** The request's error, after logging what else it printed (traces, warnings). */
  #splitLogged(response: ReplResponse, path: AttrPath): { error: string | undefined } {
    const { error, log } = splitOutput(response.text, this.#config.showTrace);
    if (log.length > 0) {
      const attr = formatAttrPath(path);
      for (const line of log) this.#log.info({ attr }, line);
    }
    return { error };
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

  /**
   * A fresh child, set up. One killed by a signal while starting is
   * replaced, after the pauses of a killed attribute, for as long as that
   * goes on: setting up evaluates nothing (the definitions are lazy), so
   * the kill came from outside and says nothing about the input.
   */
  async #spawn(): Promise<NixRepl> {
    // A child being retired for its memory finishes its queue first, so two
    // large children never live at once.
    await this.#retiring;
    for (let deaths = 1; ; deaths++) {
      try {
        return await this.#startChild();
      } catch (error) {
        if (!(error instanceof ReplExitedError)) throw error;
        if (!error.exit.signal || this.#closed) throw new Error(`could not start the nix evaluator: ${error.detail}`, { cause: error });
        this.#log.warn({ reason: error.detail, deaths }, 'nix evaluator killed while starting; starting another');
        await sleep(retryPauseMs(deaths));
      }
    }
  }

  async #startChild(): Promise<NixRepl> {
    const config = this.#config;
    // Only a flake's flags depend on the Nix version: other inputs do not wait to learn it.
    const dialect = config.input.kind === 'flake' ? await nixDialect() : undefined;
    const repl = new NixRepl({ args: replArgs(config, dialect), cwd: config.workdir });
    const lines = setupLines(config.input, config.autoArgs, describeOptions(config));
    try {
      for (const line of lines) {
        const { error } = splitOutput((await repl.request(line)).text);
        if (error !== undefined) throw new InputError(firstLine(error));
      }
      if (config.input.kind === 'flake') {
        const { error } = splitOutput((await repl.request(FETCH_FLAKE_SOURCE)).text);
        if (error !== undefined) throw new InputError(`cannot fetch the flake '${config.input.lockedUrl}': ${firstLine(error)}`);
      }
    } catch (error) {
      await repl.close();
      throw error;
    }
    this.#log.debug({ pid: repl.pid }, 'nix evaluator started');
    this.#repl = repl;
    return repl;
  }

  #result(path: AttrPath, d: Description): WorkResult | Promise<WorkResult> {
    const attrPath = [...path];
    if (d[0] === DESCRIBED.walk) return { attr: formatAttrPath(path), attrPath, attrs: d[1] };
    if (d[0] !== DESCRIBED.drv) return { skip: true, attrPath };
    const [, name, system, drvPath, outputList, requiredSystemFeatures, extras] = d;
    const outputs: Record<string, string> = {};
    for (let i = 0; i + 1 < outputList.length; i += 2) outputs[outputList[i]!] = outputList[i + 1]!;
    const event: DerivationEvent = { attr: formatAttrPath(path), attrPath, name, system, drvPath, outputs, requiredSystemFeatures };
    if (extras) {
      if (extras.meta !== undefined) event.meta = extras.meta;
      if (extras.constituents !== undefined) event.constituents = extras.constituents;
      if (extras.namedConstituents !== undefined) event.namedConstituents = extras.namedConstituents;
      if (extras.globConstituents !== undefined) event.globConstituents = extras.globConstituents;
      if ('extraValue' in extras) event.extraValue = extras.extraValue;
    }
    return this.#config.showInputDrvs ? withInputDrvs(path, event) : event;
  }

  #recycleIfLarge(): boolean {
    const repl = this.#repl;
    const rss = repl?.residentMiB();
    if (!repl || rss === undefined || rss <= this.#config.maxMemoryMiB) return false;
    this.#log.debug({ pid: repl.pid, rssMiB: Math.round(rss) }, 'nix evaluator passed the memory limit; restarting');
    this.#retire(repl);
    return true;
  }

  /** Ends the child once it has answered what it holds; the next request starts another. */
  #retire(repl: NixRepl): void {
    this.#repl = undefined;
    this.#retired = repl;
    this.#retiring = repl.idle().then(() => repl.close());
  }
}

/** How often a sweep's resident memory is compared with --max-memory. */
const SWEEP_MEMORY_POLL_MS = 100;

function describeOptions(config: WorkerConfig): DescribeOptions {
  return { meta: config.meta, forceRecurse: config.forceRecurse, select: config.select, apply: config.apply };
}

async function withInputDrvs(path: AttrPath, event: DerivationEvent): Promise<WorkResult> {
  try {
    event.inputDrvs = parseInputDrvs(await readFile(event.drvPath, 'utf8'));
    return event;
  } catch (e) {
    return errorEvent(path, `cannot read input derivations of ${event.drvPath}: ${(e as Error).message}`);
  }
}

function siblingsPart(units: ReadonlyArray<Extract<WorkUnit, { kind: 'siblings' }>>): SiblingsPart {
  return { ranges: units.map((unit) => ({ parent: unit.parent, from: unit.from, count: unit.names.length })), paths: chunkPaths(units) };
}

/** A part of two or more siblings split into two by count (a range may be cut in two). */
function halves(part: SiblingsPart): [SiblingsPart, SiblingsPart] {
  const half = Math.floor(part.paths.length / 2);
  const left: SiblingsPart = { ranges: [], paths: part.paths.slice(0, half) };
  const right: SiblingsPart = { ranges: [], paths: part.paths.slice(half) };
  let seen = 0;
  for (const range of part.ranges) {
    const cut = Math.min(Math.max(half - seen, 0), range.count);
    if (cut > 0) left.ranges.push({ parent: range.parent, from: range.from, count: cut });
    if (cut < range.count) right.ranges.push({ parent: range.parent, from: range.from + cut, count: range.count - cut });
    seen += range.count;
  }
  return [left, right];
}

/**
 * Deaths in a row of a child evaluating one attribute before they count as
 * the attribute's doing. A child that exits by itself (Nix's stack
 * overflow, an allocation it cannot make) ended because of what it was
 * evaluating, so a second death settles it. A signal may come from outside
 * (an operator, a fault injector, the OOM killer choosing it for memory
 * others used); those deaths are retried after growing pauses, so a burst
 * of kills passes, and only a run of them on the same attribute blames it
 * (the OOM killer does that to an attribute that needs more memory than
 * the machine has).
 */
const SELF_DEATHS = 2;
const SIGNAL_DEATHS = 8;

const deathsToBlame = (exit: ReplExit): number => (exit.signal ? SIGNAL_DEATHS : SELF_DEATHS);

/** The pause before a retry after `deaths` deaths: 100 ms, doubling up to 1 s (4.5 s in all before an eighth try). */
const retryPauseMs = (deaths: number): number => Math.min(1000, 100 * 2 ** (deaths - 1));

function deathMessage(exit: ReplExit, deaths: number): string {
  if (exit.overBudget) return `the nix evaluator passed the memory budget evaluating this attribute alone: ${exit.detail}`;
  const times = deaths > 1 ? ` (${deaths} times)` : '';
  const why = exit.signal === 'SIGKILL' ? `${exit.detail} (the kernel's OOM killer does this when memory runs out)` : exit.detail;
  return `${EVALUATOR_DIED}${times}: ${why}`;
}

function errorEvent(path: AttrPath, error: string): WorkResult {
  return { attr: formatAttrPath(path), attrPath: [...path], error, fatal: false };
}

function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? text;
}

/**
 * Flags for `nix repl`. Nix evaluates flakes in pure mode; where the repl
 * cannot (Nix 2.8: it forces pure-eval off whatever it is told), a flake is
 * evaluated in restricted mode instead, the nearest the repl allows:
 * getEnv gives "", files outside the store and the search path are
 * forbidden; only builtins.currentSystem and currentTime stay visible.
 */
export function replArgs(config: WorkerConfig, dialect: NixDialect | undefined): string[] {
  const args: string[] = [];
  if (config.input.kind === 'flake') {
    args.push('--extra-experimental-features', 'nix-command flakes');
    if (!config.impure) args.push('--option', dialect?.replPureEval ? 'pure-eval' : 'restrict-eval', 'true');
  }
  if (config.impure) args.push('--impure');
  if (config.showTrace) args.push('--show-trace');
  // Nix 2.8's repl writes .drv files to --store whatever --eval-store says (checked).
  if (config.evalStore) args.push('--store', config.evalStore);
  for (const p of config.includePaths) args.push('-I', p);
  for (const [key, value] of config.nixOptions) args.push('--option', key, value);
  return args;
}
