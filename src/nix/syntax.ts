/**
 * Nix concrete syntax that evix has to produce: string literals and
 * attribute paths. Pure functions; the evaluator builds every expression it
 * sends to Nix from these, so an attribute name can never escape its quotes.
 */

/** An attribute path: the list of names from the root to a value. */
export type AttrPath = readonly string[];

/** Quotes `text` as a Nix double-quoted string literal. */
export function nixString(text: string): string {
  let out = '"';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    switch (c) {
      case '"': out += '\\"'; break;
      case '\\': out += '\\\\'; break;
      case '\n': out += '\\n'; break;
      case '\r': out += '\\r'; break;
      case '\t': out += '\\t'; break;
      case '$':
        // `${` opens an interpolation; `$${` would too, so escape every `$` before `{`.
        out += text[i + 1] === '{' ? '\\$' : '$';
        break;
      default: out += c;
    }
  }
  return out + '"';
}

/** A Nix list of string literals, e.g. `[ "a" "b.c" ]`. */
export function nixStringList(items: readonly string[]): string {
  return items.length === 0 ? '[ ]' : `[ ${items.map(nixString).join(' ')} ]`;
}

/**
 * The path of `name` inside the set at `parent`. concat sizes the array
 * exactly: `[...parent, name]` reserves room to grow, 192 bytes a path
 * where this takes 64, and a walk holds one per attribute it has yet to
 * describe (100k at once for a flat root).
 */
export function childPath(parent: AttrPath, name: string): string[] {
  return parent.concat(name);
}

const IDENTIFIER = /^[A-Za-z_][A-Za-z0-9_'-]*$/;
const KEYWORDS = new Set(['if', 'then', 'else', 'assert', 'with', 'let', 'in', 'rec', 'inherit', 'or']);

/**
 * A number, `true`, `false`, `null`, or a string with no `$`, `\` or
 * quote inside, alone: what `--arg count 5000` or `--arg system
 * '"x86_64-linux"'` passes. Not any other name: Nix's parser reports a
 * name bound nowhere (`undefined variable 'pkgs'`), and that check stays
 * Nix's; nor an interpolation, which may name one.
 */
const PLAIN_LITERAL = /^\s*(-?[0-9]+(\.[0-9]+)?|true|false|null|"[^"\\$]*")\s*$/;

/**
 * Whether `text` is valid Nix without asking Nix (see PLAIN_LITERAL).
 * Checking anything else costs a nix-instantiate (50 ms of CPU here, in
 * series before the walk starts).
 */
export function parsesPlainly(text: string): boolean {
  return PLAIN_LITERAL.test(text);
}

/** One attribute name as it may appear in a Nix attribute path. */
export function formatAttrName(name: string): string {
  return IDENTIFIER.test(name) && !KEYWORDS.has(name) ? name : nixString(name);
}

/**
 * The `attr` field of an event: the path joined with dots, each name quoted
 * when it is not a plain identifier, so the text is itself a valid Nix
 * attribute path (`packages."x86_64-linux".hello` stays unambiguous even when
 * a name holds a dot). The root is the empty string.
 */
export function formatAttrPath(path: AttrPath): string {
  return path.map(formatAttrName).join('.');
}

/**
 * Parses an attribute path written as on the command line (`a.b."c.d"`), the
 * way Nix's own `-A` and flake fragments read it: dots separate names, double
 * quotes group a name that holds dots. Returns an error message for bad input.
 */
export function parseAttrPath(text: string): string[] | { error: string } {
  if (text === '') return [];
  const names: string[] = [];
  let current = '';
  let quoted = false;
  let sawQuote = false;
  for (const c of text) {
    if (c === '"') {
      quoted = !quoted;
      sawQuote = true;
    } else if (c === '.' && !quoted) {
      if (current === '' && !sawQuote) return { error: `empty attribute name in '${text}'` };
      names.push(current);
      current = '';
      sawQuote = false;
    } else {
      current += c;
    }
  }
  if (quoted) return { error: `missing closing quote in attribute path '${text}'` };
  if (current === '' && !sawQuote) return { error: `empty attribute name in '${text}'` };
  names.push(current);
  return names;
}

/**
 * A -I entry (`name=value` or `value`) split: `prefix` is `name=` or empty;
 * `url` when the value is fetched (`https://…`, `channel:…`) rather than a
 * local path.
 */
export function splitIncludeEntry(entry: string): { prefix: string; value: string; url: boolean } {
  const equals = entry.indexOf('=');
  const prefix = equals === -1 ? '' : entry.slice(0, equals + 1);
  const value = entry.slice(prefix.length);
  return { prefix, value, url: /^[a-z][a-z0-9+.-]*:/i.test(value) };
}
