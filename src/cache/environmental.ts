/**
 * Errors the environment caused rather than the input: a download or fetch
 * that failed, an evaluator killed by a signal (an operator, the OOM
 * killer), or one that passed the memory budget (which depends on
 * --max-memory, not on the input). A walk holding one is not stored in the evaluation cache: the
 * same hermetic input may evaluate cleanly once the network is back. Pure:
 * an error text in, an answer out.
 *
 * The texts are Nix's own (src/libstore/filetransfer.cc and the fetchers
 * print `unable to download '…': …`; fetchGit reports git's failure as
 * `program 'git' failed`) and evix's (`the nix evaluator died … killed by
 * SIG…`). A failed download of a URL that does not exist is not cached
 * either: that costs a re-evaluation, while caching a transient failure
 * would replay it for ever.
 */
const ENVIRONMENTAL = [
  /unable to download '/,
  /program 'git' failed/,
  /Could(?:n't| not) resolve host/i,
  /Connection (?:refused|timed out|reset)/i,
  /Failed to connect/i,
  /Timeout was reached/i,
  /the nix evaluator died evaluating this attribute.*killed by SIG/s,
  /the nix evaluator passed the memory budget/,
];

export function isEnvironmentalError(error: string): boolean {
  return ENVIRONMENTAL.some((pattern) => pattern.test(error));
}
