/**
 * Reads .drv files (Nix's ATerm format:
 * `Derive([outputs],[inputDrvs],[inputSrcs],system,builder,[args],[env])`)
 * and writes them back. Pure; the caller reads and writes the files.
 */

type ATerm = string | ATerm[];

/** What most readers need of a .drv: output paths by name, and input derivations. */
export interface ParsedDerivation {
  outputs: Record<string, string>;
  inputDrvs: Record<string, string[]>;
}

export function parseDerivation(drvText: string): ParsedDerivation {
  const drv = parseDerivationModel(drvText);
  return {
    outputs: Object.fromEntries([...drv.outputs].map(([name, [path]]) => [name, path])),
    inputDrvs: Object.fromEntries(drv.inputDrvs),
  };
}

/** `inputDrvs` of a derivation: input .drv path to the output names it uses. */
export function parseInputDrvs(drvText: string): Record<string, string[]> {
  return parseDerivation(drvText).inputDrvs;
}

function parseDerive(text: string): ATerm[] {
  if (!text.startsWith('Derive(')) throw new Error('not a derivation: missing Derive(');
  const parser = new Parser(text, 'Derive'.length);
  const term = parser.term();
  if (!Array.isArray(term)) throw new Error('malformed derivation');
  return term;
}

class Parser {
  readonly text: string;
  at: number;

  constructor(text: string, at: number) {
    this.text = text;
    this.at = at;
  }

  term(): ATerm {
    const c = this.text[this.at];
    if (c === '"') return this.string();
    if (c === '[' || c === '(') return this.sequence(c === '[' ? ']' : ')');
    throw new Error(`malformed derivation at offset ${this.at}`);
  }

  private sequence(close: string): ATerm[] {
    this.at++;
    const items: ATerm[] = [];
    if (this.text[this.at] === close) {
      this.at++;
      return items;
    }
    for (;;) {
      items.push(this.term());
      const c = this.text[this.at++];
      if (c === close) return items;
      if (c !== ',') throw new Error(`malformed derivation at offset ${this.at - 1}`);
    }
  }

  private string(): string {
    let out = '';
    for (let i = this.at + 1; i < this.text.length; i++) {
      const c = this.text[i];
      if (c === '"') {
        this.at = i + 1;
        return out;
      }
      if (c === '\\') {
        const n = this.text[++i];
        out += n === 'n' ? '\n' : n === 'r' ? '\r' : n === 't' ? '\t' : (n ?? '');
      } else {
        out += c;
      }
    }
    throw new Error('malformed derivation: unterminated string');
  }
}

/** A whole .drv, as Nix's ATerm has it. */
export interface DerivationModel {
  /** Output name to [path, hashAlgo, hash]; the last two are empty for input-addressed outputs. */
  outputs: Map<string, [string, string, string]>;
  inputDrvs: Map<string, string[]>;
  inputSrcs: string[];
  platform: string;
  builder: string;
  args: string[];
  env: Map<string, string>;
}

export function parseDerivationModel(drvText: string): DerivationModel {
  const [outputs, inputDrvs, inputSrcs, platform, builder, args, env] = parseDerive(drvText);
  const strings = (t: ATerm | undefined): string[] => {
    if (!Array.isArray(t) || !t.every((x) => typeof x === 'string')) throw new Error('malformed derivation: expected a list of strings');
    return t as string[];
  };
  const tuples = (t: ATerm | undefined): ATerm[][] => {
    if (!Array.isArray(t) || !t.every((x) => Array.isArray(x))) throw new Error('malformed derivation: expected a list of tuples');
    return t as ATerm[][];
  };
  const text = (t: ATerm | undefined): string => {
    if (typeof t !== 'string') throw new Error('malformed derivation: expected a string');
    return t;
  };
  return {
    outputs: new Map(tuples(outputs).map((o) => [text(o[0]), [text(o[1]), text(o[2]), text(o[3])] as [string, string, string]])),
    inputDrvs: new Map(tuples(inputDrvs).map((i) => [text(i[0]), strings(i[1])])),
    inputSrcs: strings(inputSrcs),
    platform: text(platform),
    builder: text(builder),
    args: strings(args),
    env: new Map(tuples(env).map((e) => [text(e[0]), text(e[1])])),
  };
}

/**
 * The ATerm text of a derivation, as Nix writes it: outputs, inputs and
 * environment sorted, strings escaped. `maskOutputs` blanks the output paths
 * (and the environment variables named after outputs), as Nix does when
 * hashing a derivation to find its output paths.
 */
export function unparseDerivation(drv: DerivationModel, options: { maskOutputs?: boolean } = {}): string {
  const mask = options.maskOutputs ?? false;
  const str = (s: string) => `"${s.replace(/[\\"\n\r\t]/g, (c) => ({ '\\': '\\\\', '"': '\\"', '\n': '\\n', '\r': '\\r', '\t': '\\t' })[c]!)}"`;
  const list = (items: string[]) => `[${items.join(',')}]`;
  const sorted = <V>(m: Map<string, V>) => [...m.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const outputs = sorted(drv.outputs).map(([name, [path, algo, hash]]) => `(${[name, mask ? '' : path, algo, hash].map(str).join(',')})`);
  const inputs = sorted(drv.inputDrvs).map(([path, outs]) => `(${str(path)},${list([...outs].sort().map(str))})`);
  const env = sorted(drv.env).map(([k, v]) => `(${str(k)},${str(mask && drv.outputs.has(k) ? '' : v)})`);
  return `Derive(${list(outputs)},${list(inputs)},${list([...drv.inputSrcs].sort().map(str))},${str(drv.platform)},${str(drv.builder)},${list(drv.args.map(str))},${list(env)})`;
}
