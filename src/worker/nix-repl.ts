/**
 * One `nix repl` child fed over pipes: write a request line, get its framed
 * response. Knows nothing of attribute paths; see ReplFramer for the framing.
 */
import { execa, type ResultPromise } from 'execa';
import { ReplFramer, markerRequest, type ReplResponse } from './repl-framer.js';

export interface NixReplOptions {
  /** Arguments after `nix repl`: flags such as --option, -I, --impure. */
  args: string[];
  cwd: string;
  env?: Record<string, string>;
}

/** The child exited (crash, kill, OOM) while requests were outstanding. */
export class ReplExitedError extends Error {
  readonly detail: string;

  constructor(detail: string) {
    super(`nix evaluator exited: ${detail}`);
    this.detail = detail;
    this.name = 'ReplExitedError';
  }
}

interface Pending {
  resolve: (r: ReplResponse) => void;
  reject: (e: Error) => void;
}

export class NixRepl {
  readonly #child: ResultPromise<{ buffer: false; reject: false }>;
  readonly #framer = new ReplFramer();
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #exit: ReplExitedError | undefined;

  constructor(options: NixReplOptions) {
    this.#child = execa('nix', ['repl', ...options.args], {
      cwd: options.cwd,
      env: options.env,
      stdin: 'pipe',
      stdout: 'pipe',
      stderr: 'pipe',
      buffer: false,
      reject: false,
      forceKillAfterDelay: 2000,
    });
    const child = this.#child;
    child.stdout.setEncoding('utf8');
    child.stderr.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => this.#settle(this.#framer.pushStdout(chunk)));
    child.stderr.on('data', (chunk: string) => this.#settle(this.#framer.pushStderr(chunk)));
    // A write after the child died fails with EPIPE; the exit handler reports it.
    child.stdin.on('error', () => {});
    void child.then((result) => {
      const how = result.signal ? `killed by ${result.signal}` : `exit code ${result.exitCode ?? 'unknown'}`;
      const said = lastError(this.#framer.unframedStderr);
      this.#exit = new ReplExitedError(said ? `${how}: ${said}` : how);
      for (const p of this.#pending.values()) p.reject(this.#exit);
      this.#pending.clear();
    });
  }

  get pid(): number | undefined {
    return this.#child.pid;
  }

  get exited(): boolean {
    return this.#exit !== undefined;
  }

  /** Sends one input line (it may hold newlines the repl reads as continuation). */
  request(line: string): Promise<ReplResponse> {
    if (this.#exit) return Promise.reject(this.#exit);
    const id = this.#nextId++;
    this.#framer.expect(id);
    const response = new Promise<ReplResponse>((resolve, reject) => this.#pending.set(id, { resolve, reject }));
    this.#child.stdin.write(`${line}\n${markerRequest(id)}\n`);
    return response;
  }

  /** Ends the child and waits for it to be gone. */
  async close(): Promise<void> {
    if (this.#exit) return;
    this.#child.stdin.end();
    this.#child.kill('SIGTERM');
    await this.#child;
  }

  #settle(responses: ReplResponse[]): void {
    for (const r of responses) {
      const p = this.#pending.get(r.id);
      this.#pending.delete(r.id);
      p?.resolve(r);
    }
  }
}

/** The last `error:` line a dying child printed, e.g. Nix's stack overflow message. */
function lastError(stderr: string): string | undefined {
  const lines = stderr.split('\n').filter((l) => l.startsWith('error:'));
  return lines.at(-1)?.slice('error: '.length);
}
