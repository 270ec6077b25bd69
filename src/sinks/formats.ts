/**
 * Output formats: what line, if any, an event becomes. `evix` prints every
 * event as it is. `nix-eval-jobs` prints what nix-eval-jobs prints, field
 * by field, for its consumers (nix-fast-build, buildbot-nix, its own test
 * suite):
 * - derivation and error lines only, keys sorted as nlohmann::json sorts
 *   them (by bytes, at every level);
 * - its `attr` spelling (a name holding a dot in double quotes, nothing
 *   else quoted);
 * - an error's text as Nix prints it, starting with `error: `;
 * - `meta: null` for a derivation with no meta to show;
 * - the constituent fields on every derivation with `--constituents`, on
 *   none without;
 * - nothing read from the .drv with `--no-instantiate`;
 * - an error that ends the run is not a line: it goes to stderr.
 * Pure functions.
 */
import { isAttrsetEvent, isErrorEvent, type DerivationEvent, type EvalEvent } from '../events.js';

export const OUTPUT_FORMATS = ['evix', 'nix-eval-jobs'] as const;
export type OutputFormat = (typeof OUTPUT_FORMATS)[number];

/** The line an event becomes, or undefined when the format leaves it out. */
export type LineFormat = (event: EvalEvent) => object | undefined;

export const evixLine: LineFormat = (event) => {
  if (!isErrorEvent(event) || event.aggregate === undefined) return event;
  const { aggregate: _aggregate, ...error } = event;
  return error;
};

/** Options of nix-eval-jobs that change its lines. */
export interface NixEvalJobsLineOptions {
  /** --constituents: every derivation carries constituents, namedConstituents and globConstituents. */
  constituents: boolean;
  /** False with --no-instantiate: nothing read from a .drv (requiredSystemFeatures). */
  instantiated: boolean;
}

export function nixEvalJobsLine(options: NixEvalJobsLineOptions): LineFormat {
  return (event) => {
    if (isAttrsetEvent(event)) return undefined;
    const attr = nixEvalJobsAttr(event.attrPath);
    if (isErrorEvent(event)) {
      if (event.fatal) return undefined;
      const error = nixErrorText(event.error);
      // A failed aggregate is its derivation line with the error, as nix-eval-jobs prints it.
      if (event.aggregate) return sortedKeys({ ...nixEvalJobsDerivation(event.aggregate, options), attr, error: event.error }) as object;
      return { attr, attrPath: event.attrPath, error };
    }
    return sortedKeys(nixEvalJobsDerivation({ ...(event as DerivationEvent), attr }, options)) as object;
  };
}

/** nix-eval-jobs' `attr`: names joined with dots, a name that holds a dot quoted. */
export function nixEvalJobsAttr(attrPath: readonly string[]): string {
  return attrPath.map((name) => (name.includes('.') ? `"${name}"` : name)).join('.');
}

/** An error as Nix prints it: after `error: `, with later lines indented as Nix indents them already. */
export function nixErrorText(message: string): string {
  return message.startsWith('error:') ? message : `error: ${message}`;
}

function nixEvalJobsDerivation(event: DerivationEvent, options: NixEvalJobsLineOptions): Record<string, unknown> {
  const { constituents, namedConstituents, globConstituents, requiredSystemFeatures, meta, ...rest } = event;
  const line: Record<string, unknown> = rest;
  if (options.instantiated) line.requiredSystemFeatures = requiredSystemFeatures;
  if (meta !== undefined) line.meta = Object.keys(meta).length === 0 ? null : meta;
  if (options.constituents) {
    line.constituents = constituents ?? [];
    if (namedConstituents !== undefined || constituents === undefined) line.namedConstituents = namedConstituents ?? [];
    line.globConstituents = globConstituents ?? false;
  }
  return line;
}

/** `value` with the keys of every object in it sorted by bytes (UTF-16 order agrees for the names Nix allows). */
function sortedKeys(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortedKeys);
  if (value === null || typeof value !== 'object') return value;
  const sorted: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) sorted[key] = sortedKeys((value as Record<string, unknown>)[key]);
  return sorted;
}
