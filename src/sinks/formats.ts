/**
 * Output formats. `evix` prints every event as it is. `nix-eval-jobs` prints
 * what a consumer of nix-eval-jobs reads (nix-fast-build, buildbot-nix):
 * derivation and error lines only, with its field names and its `attr`
 * spelling (a name holding a dot in double quotes, nothing else quoted).
 * Pure functions.
 */
import { isAttrsetEvent, isErrorEvent, type EvalEvent } from '../events.js';

export const OUTPUT_FORMATS = ['evix', 'nix-eval-jobs'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** nix-eval-jobs' `attr`: names joined with dots, a name that holds a dot quoted. */
export function nixEvalJobsAttr(attrPath: readonly string[]): string {
  return attrPath.map((name) => (name.includes('.') ? `"${name}"` : name)).join('.');
}

/** What to print for `event`, or undefined when the format leaves it out. */
export function formatEvent(event: EvalEvent, format: OutputFormat): object | undefined {
  if (format === 'evix') return event;
  if (isAttrsetEvent(event)) return undefined;
  const attr = nixEvalJobsAttr(event.attrPath);
  if (isErrorEvent(event)) return { attr, attrPath: event.attrPath, error: event.error };
  return { ...event, attr };
}
