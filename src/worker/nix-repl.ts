/**
 * One `nix repl` child fed over pipes: write request lines, get their framed
 * responses in order. Requests may be pipelined; the repl answers them one
 * after another. Knows nothing of attribute paths; see ReplFramer for the
 * framing.
 *
 * Spawned with node:child_process rather than execa: this is the hot path of
 * every worker process and needs nothing but three pipes, and importing
 * execa costs about 110 ms of start-up per process here. A child whose
 * parent dies sees its stdin close and exits, so none is left behind.
 */
import { spawn, type ChildProcessByStdio } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { nixEnvironment } from '../nix/environment.js';
import { ResidentMemory } from './memory.js';
import { ReplFramer, markerRequest, type ReplResponse } from './repl-framer.js';

export interface NixReplOptions {
  /** Arguments after `nix repl`: flags such as --option, -I, --impure. */
  args: string[];
  cwd: string;
  env?: Record<string, string>;
}

/** How a child ended: by a signal (killed: by the kernel's OOM killer, or from outside), or by exiting. */
export interface ReplExit {
  /** What it said and how it ended, for messages. */
  detail: string;
  /** The signal that ended it, if one did (not when evix itself killed it for memory). */
  signal?: string;
  /** Killed by evix because the evaluators together passed their memory budget (see MemoryBudget). */
  overBudget?: boolean;
}

/** The child exited (crash, kill, OOM) before answering a request. */
export class ReplExitedError extends Error {
  readonly exit: ReplExit;
  /** True for the request the child was evaluating; false for those queued behind it. */
  readonly wasRunning: boolean;

  constructor(exit: ReplExit, wasRunning: boolean) {
    super(`nix evaluator exited: ${exit.detail}`);
    this.name = 'ReplExitedError';
    this.exit = exit;
    this.wasRunning = wasRunning;
  }

  get detail(): string {
    return this.exit.detail;
  }
}

interface Pending {
  resolve: (r: ReplResponse) => void;
  reject: (e: Error) => void;
}

export class NixRepl {
  readonly #child: ChildProcessByStdio<Writable, Readable, null>;
  readonly #framer = new ReplFramer();
  readonly #pending = new Map<number, Pending>();
  readonly #exited: Promise<void>;
  #nextId = 0;
  #exit: ReplExit | undefined;
  #idle: Array<() => void> = [];
  /** Killed by us because it could no longer answer (see #abandon). */
  #abandoned = false;
  /** Why we killed it for memory (see killForMemory). */
  #overBudget: string | undefined;
  readonly #memory: ResidentMemory | undefined;

  constructor(options: NixReplOptions) {
    // stderr joins stdout in one pipe so the two keep their order (see
    // ReplFramer); `exec` leaves nix itself as the child, whose pid we watch.
    this.#child = spawn('sh', ['-c', 'exec nix repl "$@" 2>&1', 'sh', ...options.args], {
      cwd: options.cwd,
      env: { ...nixEnvironment(), ...options.env },
      stdio: ['pipe', 'pipe', 'ignore'],
    });
    const child = this.#child;
    this.#memory = child.pid === undefined ? undefined : new ResidentMemory(child.pid);
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.#settle(this.#framer.push(chunk)));
    // A write after the child died fails with EPIPE; the exit handler reports it.
    child.stdin.on('error', () => {});
    this.#exited = new Promise((resolve) => {
      child.on('error', (error) => this.#onExit({ detail: `cannot start nix: ${error.message}` }, resolve));
      child.on('exit', (code, signal) => {
        if (this.#overBudget !== undefined) return this.#onExit({ detail: this.#overBudget, overBudget: true }, resolve);
        const how = signal ? `killed by ${signal}` : code === 127 ? 'nix not found on PATH' : `exit code ${code ?? 'unknown'}`;
        const said = lastError(this.#framer.unframedText);
        const detail = said ? `${how}: ${said}` : how;
        this.#onExit(signal ? { detail, signal } : { detail }, resolve);
      });
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  /** The child's resident memory in MiB, undefined once it is gone. */
  residentMiB(): number | undefined {
    return this.#exit === undefined ? this.#memory?.mib() : undefined;
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** Sends one input line (it may hold newlines the repl reads as continuation). */
  request(line: string): Promise<ReplResponse> {
    if (this.#exit !== undefined) return Promise.reject(new ReplExitedError(this.#exit, false));
    const id = this.#nextId++;
    this.#framer.expect(id);
    const response = new Promise<ReplResponse>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    const stdin = this.#child.stdin;
    // Requests made in one tick (pipelined work arriving together) leave in one write.
    if (stdin.writableCorked === 0) {
      stdin.cork();
      process.nextTick(() => stdin.uncork());
    }
    stdin.write(`${line}\n${markerRequest(id)}\n`);
    return response;
  }

  /** Resolves once no request is outstanding. */
  idle(): Promise<void> {
    if (this.#pending.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Ends the child and waits for it to be gone; outstanding requests fail. */
  async close(): Promise<void> {
    if (this.#exit === undefined) {
      this.#child.stdin.end();
      this.#child.kill('SIGTERM');
    }
    await this.#exited;
  }

  #settle(responses: ReplResponse[]): void {
    for (const r of responses) {
      const p = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      p?.resolve(r);
      // A repl waiting for the rest of an expression takes everything after as more of it.
      if (r.unfinished) return this.#abandon();
    }
    if (this.#pending.size === 0) this.#wakeIdle();
  }

  /** Kills the child mid-request because the evaluators passed their memory budget; `detail` says by how much. */
  killForMemory(detail: string): void {
    if (this.#exit !== undefined) return;
    this.#overBudget = detail;
    this.#child.kill('SIGKILL');
  }

  /** Ends a child that can no longer answer; what is pending was not its fault and is sent again elsewhere. */
  #abandon(): void {
    this.#abandoned = true;
    this.#child.kill('SIGKILL');
  }

  #onExit(exit: ReplExit, resolve: () => void): void {
    if (this.#exit !== undefined) return;
    this.#exit = exit;
    this.#memory?.close();
    let first = !this.#abandoned;
    for (const p of this.#pending.values()) {
      p.reject(new ReplExitedError(exit, first));
      first = false;
    }
    this.#pending.clear();
    this.#wakeIdle();
    resolve();
  }

  #wakeIdle(): void {
    const waiters = this.#idle;
    this.#idle = [];
    for (const wake of waiters) wake();
  }
}

/** The last `error:` line a dying child printed, e.g. Nix's stack overflow message. */
function lastError(text: string): string | undefined {
  const lines = text.split('\n').filter((l) => l.startsWith('error:'));
  return lines.at(-1)?.slice('error: '.length);
}
