/**
 * Splits the output of a `nix repl` child into per-request responses. Pure:
 * text in, responses out; the process lives elsewhere.
 *
 * The child's stderr is joined to its stdout (one pipe), so everything it
 * prints arrives in the order it was written, and each request is followed
 * by a marker line, `"_E<n>"`, whose printed (coloured) value ends the
 * request; the repl's echo of input lines (after a `nix-repl> ` prompt, as it
 * does when not on a terminal) is skipped.
 *
 * Measured with Nix 2.8, the cost of a request is mostly its length: the
 * repl's line editor reads its input one byte at a time, two system calls a
 * byte (about 3.5 µs per byte here), so markers and requests are kept short.
 * A `builtins.trace` marker on stderr was slower still: Nix writes stderr in
 * many small writes.
 */

import { LineSplitter } from '../lines.js';
import { messageFirst } from '../nix/error-layout.js';

export interface ReplResponse {
  id: number;
  /** The last value the repl printed for the request, colour codes removed. */
  value: string | undefined;
  /** Everything else the request printed: errors, traces, warnings. */
  text: string;
  /**
   * The repl took the request for an unfinished expression and is waiting
   * for the rest: a Nix file it imported ends mid-expression. The repl
   * swallows that syntax error (it reads "unexpected end of file" as input
   * still to come, in imported files too), so `text` holds ours instead, and
   * the child can never answer again.
   */
  unfinished?: boolean;
}

/**
 * The repl's prompt while it waits for the rest of an unfinished
 * expression; it echoes our marker after it when the request was taken as
 * unfinished.
 */
const CONTINUATION_PREFIX = ' '.repeat(10);

/** The error a request taken as unfinished answers with (see ReplResponse.unfinished). */
const UNFINISHED_ERROR =
  "error: syntax error, unexpected end of file: a Nix file evaluated here ends in the middle of an expression (`nix-instantiate --parse FILE` shows where)";

const ANSI = /\x1b\[[0-9;]*m/g;
const ECHO_PREFIX = 'nix-repl> ';
const COLOUR_END = '\x1b[0m';

/** The line sent after a request to frame its response: a string that prints as itself. */
export function markerRequest(id: number): string {
  return `"_E${id}"`;
}

export class ReplFramer {
  readonly #expected: number[] = [];
  readonly #lines = new LineSplitter();
  #value: string | undefined;
  #text = '';

  /** Registers that request `id` has been written, in order. */
  expect(id: number): void {
    this.#expected.push(id);
  }

  /** Requests written and not yet complete. */
  get pending(): number {
    return this.#expected.length;
  }

  push(chunk: string): ReplResponse[] {
    const done: ReplResponse[] = [];
    for (const line of this.#lines.push(chunk)) {
      if (line.startsWith(ECHO_PREFIX)) continue;
      const head = this.#expected[0];
      if (head !== undefined && line === CONTINUATION_PREFIX + markerRequest(head)) {
        done.push(this.#finish({ value: undefined, text: `${this.#text}${UNFINISHED_ERROR}\n`, unfinished: true }));
        continue;
      }
      if (!line.startsWith('\x1b[')) {
        this.#text += `${line}\n`;
        continue;
      }
      const plain = withoutColour(line);
      if (head !== undefined && plain === markerRequest(head)) done.push(this.#finish({ value: this.#value, text: this.#text }));
      else this.#value = plain;
    }
    return done;
  }

  /** Ends the oldest request with `response` and starts gathering for the next. */
  #finish(response: Omit<ReplResponse, 'id'>): ReplResponse {
    const id = this.#expected.shift()!;
    this.#value = undefined;
    this.#text = '';
    return { id, ...response };
  }

  /** What arrived after the last complete request: what a dying child said last. */
  get unframedText(): string {
    return this.#text + this.#lines.pending;
  }
}

/**
 * A printed value without its colour codes. A string or a number is one
 * coloured run (`ESC[35;1m"…"ESC[0m`): its ends are cut off instead of
 * running a regular expression over an answer of many kilobytes.
 */
function withoutColour(line: string): string {
  const start = line.indexOf('m') + 1;
  const end = line.length - COLOUR_END.length;
  if (start > 0 && line.endsWith(COLOUR_END) && line.indexOf('\x1b', start) === end) return line.slice(start, end);
  return line.replace(ANSI, '');
}

/**
 * Reads a string the repl printed whose text is JSON (`"{\"a\":1}"`) and
 * parses that JSON; undefined when it is not a string holding JSON. The repl
 * escapes `"`, `\`, newline, return and tab as JSON does; the text of
 * builtins.toJSON holds no other control characters. Some Nix versions also
 * print `${` as `\${`, which JSON does not know: undone escape by escape
 * (an escaped backslash may precede it), and only when the text has one.
 * Then the printed string is a JSON string literal: two native parses
 * instead of a loop over every character of a large answer.
 */
export function parsePrintedJson(printed: string): unknown {
  if (printed.length < 2 || printed[0] !== '"' || printed[printed.length - 1] !== '"') return undefined;
  const literal = printed.includes('${') ? printed.replace(/\\[\s\S]/g, (escape) => (escape === '\\$' ? '$' : escape)) : printed;
  try {
    return JSON.parse(JSON.parse(literal) as string);
  } catch {
    return undefined;
  }
}

/**
 * Splits a request's text into the Nix error (from the first `error:` line
 * on, Nix's whole message with its code frame, and its trace when
 * `keepTrace`, in Nix 2.8's layout whatever the version: see
 * src/nix/error-layout.ts) and the log lines before it (`trace:`,
 * `warning:`), which are not failures.
 */
export function splitOutput(text: string, keepTrace = false): { error: string | undefined; log: string[] } {
  const lines = text.split('\n');
  const at = lines.findIndex((l) => l.startsWith('error:'));
  const logLines = (at === -1 ? lines : lines.slice(0, at)).filter((l) => l !== '' && !l.startsWith('Welcome to Nix'));
  if (at === -1) return { error: undefined, log: logLines };
  const error = dropHelperFrames(messageFirst(lines.slice(at), keepTrace)).join('\n').replace(/^error: /, '').trimEnd();
  return { error, log: logLines };
}

/**
 * Removes what points into evix's own expressions: a trace entry (`… while
 * evaluating 'describe'` with its position and code) whose position is in
 * one of them, and such a position under the error itself. They show
 * evix's code, not the user's, and run to thousands of characters. An
 * --expr, --select or --apply is a `«string»` too, but its code is the
 * user's, so a position is ours only when the code under it is.
 */
function dropHelperFrames(lines: string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < lines.length; ) {
    const end = blockEnd(lines, i);
    const block = lines.slice(i, end);
    if (!TRACE_ENTRY.test(lines[i]!)) kept.push(...withoutOurPositions(block));
    else if (!block.some((_, j) => isOurPosition(block, j))) kept.push(...block);
    i = end;
  }
  return kept;
}

/** The error's own lines without our position and the code under it. */
function withoutOurPositions(block: readonly string[]): string[] {
  const kept: string[] = [];
  for (let i = 0; i < block.length; i++) {
    if (!isOurPosition(block, i)) {
      kept.push(block[i]!);
      continue;
    }
    while (i + 1 < block.length && CODE_OR_BLANK.test(block[i + 1]!)) i++;
    if (kept.at(-1) === '') kept.pop();
  }
  return kept;
}

/** Whether line `at` of `lines` is a `«string»` position whose code is evix's. */
function isOurPosition(lines: readonly string[], at: number): boolean {
  if (!STRING_POSITION.test(lines[at]!)) return false;
  const code = lines.slice(at + 1).find((l) => /^\s*\d+\|/.test(l));
  return code !== undefined && OUR_CODE.test(code);
}

const STRING_POSITION = /^\s*at «string»:\d+:\d+:$/;
const TRACE_ENTRY = /^\s*… /;
const CODE_OR_BLANK = /^(\s*(\d+)?\|.*)?$/;
/** The code lines of evix's definitions and requests (nix-helpers.ts), as Nix quotes them under a position. */
const OUR_CODE = /^\s*\d+\|\s+(let autoCall = |path: builtins\.toJSON \(__evix\.|budget: units: builtins\.toJSON \(__evix\.|\{ value = __evixRoot; |_e\[|_c \d)/;

/** Where the block starting at `start` ends: the next trace entry, or the end. */
function blockEnd(lines: readonly string[], start: number): number {
  for (let j = start + 1; j < lines.length; j++) if (TRACE_ENTRY.test(lines[j]!)) return j;
  return lines.length;
}
