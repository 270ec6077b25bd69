/**
 * Reads the input derivations out of a .drv file (Nix's ATerm format:
 * `Derive([outputs],[inputDrvs],[inputSrcs],system,builder,[args],[env])`).
 * Pure parsing; the caller reads the file.
 */

type ATerm = string | ATerm[];

/** What evix reads of a .drv: output paths by name, and input derivations. */
export interface ParsedDerivation {
  outputs: Record<string, string>;
  inputDrvs: Record<string, string[]>;
}

export function parseDerivation(drvText: string): ParsedDerivation {
  const fields = parseDerive(drvText);
  const outputs: Record<string, string> = {};
  const declared = fields[0];
  if (!Array.isArray(declared)) throw new Error('malformed derivation: outputs is not a list');
  for (const entry of declared) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || typeof entry[1] !== 'string') throw new Error('malformed derivation: bad output entry');
    outputs[entry[0]] = entry[1];
  }
  return { outputs, inputDrvs: readInputDrvs(fields[1]) };
}

/** `inputDrvs` of a derivation: input .drv path to the output names it uses. */
export function parseInputDrvs(drvText: string): Record<string, string[]> {
  return readInputDrvs(parseDerive(drvText)[1]);
}

function readInputDrvs(inputs: ATerm | undefined): Record<string, string[]> {
  if (!Array.isArray(inputs)) throw new Error('malformed derivation: inputDrvs is not a list');
  const result: Record<string, string[]> = {};
  for (const entry of inputs) {
    if (!Array.isArray(entry) || typeof entry[0] !== 'string' || !Array.isArray(entry[1])) {
      throw new Error('malformed derivation: bad inputDrvs entry');
    }
    result[entry[0]] = entry[1].filter((o): o is string => typeof o === 'string');
  }
  return result;
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
