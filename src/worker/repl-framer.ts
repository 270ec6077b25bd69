/**
 * Splits the two output streams of a `nix repl` child into per-request
 * responses. Pure: bytes in, responses out; the process lives elsewhere.
 *
 * Every request is followed by a marker expression,
 * `builtins.trace "__EVIX_END_<n>" ("__EVIX_END" + "_<n>")`, which prints
 * `trace: __EVIX_END_<n>` on stderr and the string `"__EVIX_END_<n>"` on
 * stdout. stdout and stderr reach us in any relative order, so a request is
 * complete only once both of its markers have arrived; whatever each stream
 * carried since the previous marker belongs to it. The marker's value is
 * built by concatenation so that the repl's echo of the input line (it echoes
 * after a `nix-repl> ` prompt when not on a terminal) never matches.
 */

export interface ReplResponse {
  id: number;
  /** The last value the repl printed for the request, colour codes removed. */
  value: string | undefined;
  /** What the request wrote to stderr (errors, traces, warnings). */
  stderr: string;
}

const ANSI = /\x1b\[[0-9;]*m/g;
const ECHO_PREFIX = 'nix-repl> ';

export function markerText(id: number): string {
  return `__EVIX_END_${id}`;
}

/** The line sent after a request to frame its response. */
export function markerRequest(id: number): string {
  return `builtins.trace "${markerText(id)}" ("__EVIX_END" + "_${id}")`;
}

export class ReplFramer {
  readonly #expected: number[] = [];
  #stdoutRest = '';
  #stderrRest = '';
  /** Index into #expected of the request each stream is currently filling. */
  #stdoutAt = 0;
  #stderrAt = 0;
  #value: string | undefined;
  #stderrText = '';
  readonly #stdoutDone: Array<string | undefined> = [];
  readonly #stderrDone: string[] = [];

  /** Registers that request `id` has been written, in order. */
  expect(id: number): void {
    this.#expected.push(id);
  }

  /** Requests written and not yet complete. */
  get pending(): number {
    return this.#expected.length;
  }

  pushStdout(chunk: string): ReplResponse[] {
    const lines = (this.#stdoutRest + chunk).split('\n');
    this.#stdoutRest = lines.pop() ?? '';
    for (const line of lines) {
      if (line.startsWith(ECHO_PREFIX) || line === '') continue;
      const plain = line.replace(ANSI, '');
      const id = this.#expected[this.#stdoutAt];
      if (id !== undefined && plain === `"${markerText(id)}"`) {
        this.#stdoutDone.push(this.#value);
        this.#value = undefined;
        this.#stdoutAt++;
      } else {
        this.#value = plain;
      }
    }
    return this.#collect();
  }

  pushStderr(chunk: string): ReplResponse[] {
    const lines = (this.#stderrRest + chunk).split('\n');
    this.#stderrRest = lines.pop() ?? '';
    for (const line of lines) {
      const id = this.#expected[this.#stderrAt];
      if (id !== undefined && line === `trace: ${markerText(id)}`) {
        this.#stderrDone.push(this.#stderrText);
        this.#stderrText = '';
        this.#stderrAt++;
      } else {
        this.#stderrText += line + '\n';
      }
    }
    return this.#collect();
  }

  /** Text received after the last complete request: what a dying child said last. */
  get unframedStderr(): string {
    return this.#stderrText + this.#stderrRest;
  }

  #collect(): ReplResponse[] {
    const done: ReplResponse[] = [];
    while (this.#stdoutDone.length > 0 && this.#stderrDone.length > 0) {
      const id = this.#expected.shift()!;
      done.push({ id, value: this.#stdoutDone.shift(), stderr: this.#stderrDone.shift()! });
      this.#stdoutAt--;
      this.#stderrAt--;
    }
    return done;
  }
}

/**
 * Reads a string as the repl prints it (`"a\"b\${c}"`) back into its text.
 * Returns undefined when `printed` is not a string literal.
 */
export function parsePrintedString(printed: string): string | undefined {
  if (printed.length < 2 || printed[0] !== '"' || printed[printed.length - 1] !== '"') return undefined;
  const body = printed.slice(1, -1);
  if (!body.includes('\\')) return body;
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const next = body[++i];
    out += next === 'n' ? '\n' : next === 'r' ? '\r' : next === 't' ? '\t' : (next ?? '');
  }
  return out;
}

/**
 * Splits a request's stderr into the Nix error (from the first `error:` line
 * on, Nix's whole message with its code frame and traces) and the log lines
 * before it (`trace:`, `warning:`), which are not failures.
 */
export function splitStderr(stderr: string): { error: string | undefined; log: string[] } {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith('error:'));
  const logLines = (at === -1 ? lines : lines.slice(0, at)).filter(
    (l) => l !== '' && !l.startsWith('Welcome to Nix'),
  );
  if (at === -1) return { error: undefined, log: logLines };
  const error = dropHelperFrames(lines.slice(at)).join('\n').replace(/^error: /, '').trimEnd();
  return { error, log: logLines };
}

/**
 * Removes code frames that point into evix's own one-line helper expression
 * (`at «string»:1:N:` and the source lines under it): they show our code, not
 * the user's, and run to thousands of characters.
 */
function dropHelperFrames(lines: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (!/^\s*at «string»:\d+:\d+:$/.test(lines[i] ?? '')) {
      kept.push(lines[i] ?? '');
      continue;
    }
    while (i + 1 < lines.length && /^(\s*(\d+)?\|.*)?$/.test(lines[i + 1] ?? '')) i++;
    if (kept.at(-1) === '') kept.pop();
  }
  return kept;
}
