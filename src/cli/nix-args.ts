/**
 * Command lines read the way Nix reads them (nix-eval-jobs inherits Nix's
 * parser, and its clients write for it): left to right; a flag takes the
 * next N words verbatim, even ones starting with `-`; `-vvv` is `-v -v -v`
 * and `-I/path` is `-I /path`; `--` ends the flags; no `--name=value`. Every
 * Nix setting is a flag too: `--NAME VALUE`, `--extra-NAME VALUE`, and for
 * a boolean setting `--NAME` / `--no-NAME`. Messages are Nix's. Pure: the
 * flags and the settings come in, a list of what was given comes out.
 */
import type { SettingKind } from '../nix/settings.js';

/** A flag: its names (long first) and how many words it takes. */
export interface FlagSpec {
  names: readonly string[];
  arity: number;
}


export type ParsedArg =
  /** A flag of the table, by its long name, with its words. */
  | { flag: string; values: string[] }
  /** A Nix setting given as a flag: `--option NAME VALUE` means the same. */
  | { setting: string; value: string }
  | { positional: string };

/** A mistake on a Nix-style command line, in Nix's words. */
export class NixUsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NixUsageError';
  }
}

/** Whether `argv` holds a long flag the table lacks, so the settings must be known to read it. */
export function needsSettings(argv: readonly string[], flags: readonly FlagSpec[]): boolean {
  const known = flagIndex(flags);
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    if (word === '--') return false;
    const spec = known.get(word);
    if (spec) i += spec.arity;
    else if (word.startsWith('--')) return true;
  }
  return false;
}

export function parseNixArgs(argv: readonly string[], flags: readonly FlagSpec[], settings: ReadonlyMap<string, SettingKind> = new Map()): ParsedArg[] {
  const known = flagIndex(flags);
  const parsed: ParsedArg[] = [];
  const words = [...argv];
  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (word === '--') {
      for (const rest of words.slice(i + 1)) parsed.push({ positional: rest });
      break;
    }
    if (!word.startsWith('-') || word === '-') {
      parsed.push({ positional: word });
      continue;
    }
    if (!word.startsWith('--') && word.length > 2) {
      // -vvv: one short flag per letter; -Ifoo: the flag, then what follows it as a word.
      words.splice(i, 1, ...splitShort(word));
      i--;
      continue;
    }
    const take = (name: string, arity: number): string[] => {
      const values = words.slice(i + 1, i + 1 + arity);
      if (values.length < arity) throw new NixUsageError(`flag '${name}' requires ${arity} argument(s), but only ${values.length} were given`);
      i += arity;
      return values;
    };
    const spec = known.get(word);
    if (spec) {
      parsed.push({ flag: spec.names[0]!, values: take(word, spec.arity) });
      continue;
    }
    const setting = settingFlag(word.slice(2), settings);
    if (!setting) throw new NixUsageError(`unrecognised flag '${word}'`);
    parsed.push({ setting: setting.name, value: setting.value ?? take(word, 1)[0]! });
  }
  return parsed;
}

/** A flag naming a setting: its name and, for a boolean, its value. */
function settingFlag(flag: string, settings: ReadonlyMap<string, SettingKind>): { name: string; value?: string } | undefined {
  const kind = settings.get(flag);
  if (kind === 'bool') return { name: flag, value: 'true' };
  if (kind === 'value') return { name: flag };
  if (flag.startsWith('no-') && settings.get(flag.slice(3)) === 'bool') return { name: flag.slice(3), value: 'false' };
  // Nix appends `extra-NAME` to a list or string setting.
  if (flag.startsWith('extra-') && settings.get(flag.slice(6)) === 'value') return { name: flag };
  return undefined;
}

/** As Nix splits `-abc`: a flag per letter; the first other character starts a word of its own (`-I/x` is `-I /x`). */
function splitShort(word: string): string[] {
  const out: string[] = [];
  for (let j = 1; j < word.length; j++) {
    if (!/[A-Za-z]/.test(word[j]!)) {
      out.push(word.slice(j));
      break;
    }
    out.push(`-${word[j]}`);
  }
  return out;
}

function flagIndex(flags: readonly FlagSpec[]): Map<string, FlagSpec> {
  const index = new Map<string, FlagSpec>();
  for (const spec of flags) for (const name of spec.names) index.set(name, spec);
  return index;
}
