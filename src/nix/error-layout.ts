/**
 * Nix's error layouts, brought to one. Nix 2.8 prints an error as its
 * message first (`error: MESSAGE`, then its position and code), with the
 * `… while evaluating` trace after it and only under --show-trace. Newer
 * Nix (2.26, 2.34) print a bare `error:` line, then the trace (some of it
 * even without --show-trace, then `(stack trace truncated; …)`), and the
 * message last, as `       error: MESSAGE` with its position. Error events
 * carry the message: the newer layout is rearranged into 2.8's, its trace
 * kept only when asked for (`--show-trace`).
 */

/** An error's lines (the first starts with `error:`) in Nix 2.8's layout. */
export function messageFirst(lines: readonly string[], keepTrace: boolean): string[] {
  if (lines[0]?.trimEnd() !== 'error:') return [...lines];
  const innermost = lines.findLastIndex((line, i) => i > 0 && INNER_ERROR.test(line));
  if (innermost === -1) return [...lines];
  const message = [lines[innermost]!.trim(), ...lines.slice(innermost + 1)];
  while (message.at(-1)?.trim() === '') message.pop();
  if (!keepTrace) return message;
  const trace = lines.slice(1, innermost).filter((line) => !TRUNCATED.test(line));
  while (trace.at(-1)?.trim() === '') trace.pop();
  return [...message, '', ...trace];
}

const INNER_ERROR = /^\s+error: /;
const TRUNCATED = /^\s*\(stack trace truncated; /;
