/**
 * One sweep: a one-shot `nix-instantiate --eval` that describes a large part
 * of the tree and prints its descriptions as it goes (see sweepExpression),
 * run beside the worker's `nix repl`.
 *
 * Why a second kind of evaluator: the repl writes every .drv it evaluates,
 * and Nix's store pays about 20 µs for each even when the file is already
 * there (a temporary GC root, two locks, a database query), as much as
 * evaluating a trivial derivation. `nix-instantiate --eval` is read-only:
 * it computes the same paths without touching the store, and the caller
 * keeps only those the store already holds (StoreValidity). With
 * `--read-write-mode` it writes them like the repl, which a store that
 * lacks most of them needs. The price is an evaluation of the root per
 * sweep, so sweeps are for parts of thousands of attributes.
 *
 * A sweep has no error boundary beyond tryEval: an error tryEval cannot
 * catch ends the process, and the caller sweeps the rest again or leaves
 * it to chunks (see Evaluator.sweep).
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { LineSplitter } from '../lines.js';
import { nixEnvironment } from '../nix/environment.js';
import { ResidentMemory } from './memory.js';
import type { Description } from './nix-helpers.js';

export interface SweepOptions {
  /** Flags for nix-instantiate (as for the repl). */
  args: readonly string[];
  cwd: string;
  /** The whole program, read from stdin (see sweepExpression). */
  expression: string;
  /** Write .drv files as the repl does (`--read-write-mode`) instead of only computing their paths. */
  writes: boolean;
  /** The marker the program puts before each line of descriptions. */
  marker: string;
  /** Each line of descriptions, in the order printed; a promise returned holds the sweep back until it settles. */
  onDescriptions: (descriptions: Description[]) => Promise<void> | undefined;
  /** Anything else the evaluation printed (the user's traces, warnings). */
  onLog: (line: string) => void;
}

/** How a sweep ended. */
export interface SweepEnd {
  /** It printed everything it was asked for. */
  complete: boolean;
  /** How it ended, for logs: an exit code or signal and the last error it printed. */
  detail: string;
  /** Why evix stopped it, when evix did (see stop()). */
  stoppedFor?: string;
}

export class Sweep {
  readonly #child: ChildProcessByStdio<Writable, null, Readable>;
  readonly #memory: ResidentMemory | undefined;
  readonly #ended: Promise<SweepEnd>;
  #stoppedFor: string | undefined;
  #running = true;

  constructor(options: SweepOptions) {
    const args = ['--eval', '--strict', ...(options.writes ? ['--read-write-mode'] : []), ...options.args, '-'];
    this.#child = spawn('nix-instantiate', args, { cwd: options.cwd, env: nixEnvironment('sweep'), stdio: ['pipe', 'ignore', 'pipe'] });
    const child = this.#child;
    this.#memory = child.pid === undefined ? undefined : new ResidentMemory(child.pid);
    const lines = new LineSplitter();
    const ours = `trace: ${options.marker}`;
    let lastError: string | undefined;
    const take = (line: string): Promise<void> | undefined => {
      if (line.startsWith(ours)) {
        try {
          return options.onDescriptions(JSON.parse(line.slice(ours.length)) as Description[]);
        } catch (error) {
          this.stop(`cannot read what it printed: ${(error as Error).message}`);
          return undefined;
        }
      }
      if (line.startsWith('error:')) lastError = line.slice('error: '.length);
      else if (lastError === undefined && line !== '') options.onLog(line);
      return undefined;
    };
    // Lines read but not yet taken, while the consumer holds the sweep back;
    // the paused pipe then fills and stops the evaluation itself.
    const backlog: string[] = [];
    let holding = false;
    let whenDrained: (() => void) | undefined;
    const pump = () => {
      while (!holding && backlog.length > 0) {
        const hold = take(backlog.shift()!);
        if (!hold) continue;
        holding = true;
        child.stderr.pause();
        void hold.then(() => {
          holding = false;
          pump();
          if (holding) return;
          child.stderr.resume();
          whenDrained?.();
        });
      }
    };
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk: string) => {
      backlog.push(...lines.push(chunk));
      pump();
    });
    child.stdin.on('error', () => {});
    child.stdin.end(options.expression);
    this.#ended = new Promise((resolve) => {
      child.on('error', (error) => this.#end(resolve, { complete: false, detail: `cannot start nix-instantiate: ${error.message}` }));
      child.on('close', (code, signal) => {
        const finish = () => {
          if (holding) return void (whenDrained = finish);
          take(lines.pending);
          const how = signal ? `killed by ${signal}` : `exit code ${code ?? 'unknown'}`;
          const end: SweepEnd = { complete: code === 0 && this.#stoppedFor === undefined, detail: lastError ? `${how}: ${lastError}` : how };
          if (this.#stoppedFor !== undefined) end.stoppedFor = this.#stoppedFor;
          this.#end(resolve, end);
        };
        finish();
      });
    });
  }

  /** Resolves once the process is gone. */
  get ended(): Promise<SweepEnd> {
    return this.#ended;
  }

  /** Resident MiB of the process, undefined once it is gone. */
  residentMiB(): number | undefined {
    return this.#running ? this.#memory?.mib() : undefined;
  }

  /** The pid of its nix-instantiate, once started. */
  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** Ends the process now; `why` is reported as its end's stoppedFor. */
  stop(why: string): void {
    if (!this.#running) return;
    this.#stoppedFor ??= why;
    this.#child.kill('SIGKILL');
  }

  /** Ends the process for its memory (the limit or the evaluators' budget); `detail` says by how much. */
  killForMemory(detail: string): void {
    this.stop(detail);
  }

  #end(resolve: (end: SweepEnd) => void, end: SweepEnd): void {
    if (!this.#running) return;
    this.#running = false;
    this.#memory?.close();
    resolve(end);
  }
}
