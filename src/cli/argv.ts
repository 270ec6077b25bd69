/**
 * Options that take several values (`--arg NAME EXPR`, `--option KEY VALUE`)
 * as Nix's own commands spell them. commander gives an option one value, so
 * before parsing, the values of such an option are joined into one argument
 * with a NUL (which no command-line argument can contain), and the option's
 * parser splits them again.
 */

export const VALUE_SEPARATOR = '\u0000';

/** Joins the `arity` values after each listed option; a missing value is an error. */
export function joinOptionValues(argv: readonly string[], arities: ReadonlyMap<string, number>): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const arity = arities.get(arg);
    if (arity === undefined) {
      out.push(arg);
      continue;
    }
    const values = argv.slice(i + 1, i + 1 + arity);
    if (values.length < arity) throw new UsageError(`option '${arg}' needs ${arity} values`);
    out.push(arg, values.join(VALUE_SEPARATOR));
    i += arity;
  }
  return out;
}

/** Splits a joined option value back into its parts. */
export function splitOptionValue(joined: string): string[] {
  return joined.split(VALUE_SEPARATOR);
}

/** A mistake on the command line: exit status 2. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}
