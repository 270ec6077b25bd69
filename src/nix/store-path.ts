/**
 * Store path arithmetic, as Nix does it: its base-32 alphabet, hash
 * compression, `makeStorePath`, and `hashDerivationModulo`, the hash an
 * input-addressed derivation's output paths come from. Used to rewrite an
 * aggregate's .drv the way nix-eval-jobs does (Nix itself checks the result
 * when the .drv is added to the store), and to check that a shipped source's
 * store path is the one its NAR hash gives.
 */
import { createHash } from 'node:crypto';
import { parseDerivationModel, unparseDerivation, type DerivationModel } from './derivation-file.js';

const BASE32 = '0123456789abcdfghijklmnpqrsvwxyz';
const STORE_DIR = '/nix/store';

export function nixBase32(bytes: Uint8Array): string {
  const length = Math.ceil((bytes.length * 8) / 5);
  let out = '';
  for (let n = length - 1; n >= 0; n--) {
    const b = n * 5;
    const i = Math.floor(b / 8);
    const j = b % 8;
    const c = (bytes[i]! >> j) | (i + 1 < bytes.length ? bytes[i + 1]! << (8 - j) : 0);
    out += BASE32[c & 0x1f];
  }
  return out;
}

/** Nix's base-32 back to bytes; undefined for a string that is not one. */
export function fromNixBase32(text: string, size: number): Uint8Array | undefined {
  if (text.length !== Math.ceil((size * 8) / 5)) return undefined;
  const bytes = new Uint8Array(size);
  for (let k = 0; k < text.length; k++) {
    const digit = BASE32.indexOf(text[k]!);
    if (digit === -1) return undefined;
    const b = (text.length - 1 - k) * 5;
    const i = b >> 3;
    const j = b % 8;
    bytes[i]! |= (digit << j) & 0xff;
    const carry = digit >> (8 - j);
    if (i + 1 < size) bytes[i + 1]! |= carry;
    else if (carry !== 0) return undefined;
  }
  return bytes;
}

const SHA256_BYTES = 32;

/**
 * The digest of a sha256 hash in any of the forms Nix prints: SRI
 * (`sha256-<base64>`, newer `nix path-info`), or `sha256:` with base-32
 * (Nix 2.8) or hex. Undefined for anything else.
 */
export function parseSha256(hash: string): Uint8Array | undefined {
  if (hash.startsWith('sha256-')) {
    const digest = Buffer.from(hash.slice('sha256-'.length), 'base64');
    return digest.length === SHA256_BYTES && digest.toString('base64') === hash.slice('sha256-'.length) ? digest : undefined;
  }
  if (!hash.startsWith('sha256:')) return undefined;
  const text = hash.slice('sha256:'.length);
  if (/^[0-9a-f]{64}$/.test(text)) return Buffer.from(text, 'hex');
  return fromNixBase32(text, SHA256_BYTES);
}

export const sriSha256 = (digest: Uint8Array): string => `sha256-${Buffer.from(digest).toString('base64')}`;

/**
 * The store path Nix gives a file system object added whole (`nix-store
 * --add`, every fetcher's `source`): derived from the sha256 of its NAR and
 * its name, with no references.
 */
export function sourceStorePath(narSha256: Uint8Array, name: string): string {
  return makeStorePath('source', narSha256, name);
}

/** `/nix/store/<hash>-<name>` split into its name; undefined for anything else. */
export function storePathName(path: string): string | undefined {
  const match = /^\/nix\/store\/[0-9a-df-np-sv-z]{32}-([A-Za-z0-9+\-._?=]+)$/.exec(path);
  return match?.[1];
}

function compress(hash: Uint8Array, size: number): Uint8Array {
  const out = new Uint8Array(size);
  hash.forEach((byte, i) => (out[i % size]! ^= byte));
  return out;
}

const sha256 = (text: string) => createHash('sha256').update(text).digest();

export function makeStorePath(type: string, hash: Uint8Array, name: string): string {
  const fingerprint = `${type}:sha256:${Buffer.from(hash).toString('hex')}:${STORE_DIR}:${name}`;
  return `${STORE_DIR}/${nixBase32(compress(sha256(fingerprint), 20))}-${name}`;
}

/** The path of output `output` of a derivation called `drvName` whose modulo hash is `hash`. */
export function makeOutputPath(output: string, hash: Uint8Array, drvName: string): string {
  return makeStorePath(`output:${output}`, hash, output === 'out' ? drvName : `${drvName}-${output}`);
}

/**
 * hashDerivationModulo: a fixed-output derivation hashes as its output; any
 * other hashes as its ATerm with each input derivation replaced by that
 * input's own modulo hash (in hex). Input hashes are memoized in `memo`.
 */
export async function hashDerivationModulo(
  drv: DerivationModel,
  maskOutputs: boolean,
  read: (drvPath: string) => Promise<string>,
  memo: Map<string, Uint8Array> = new Map(),
): Promise<Uint8Array> {
  const fixed = drv.outputs.size === 1 ? drv.outputs.get('out') : undefined;
  if (fixed && fixed[2] !== '') return sha256(`fixed:out:${fixed[1]}:${fixed[2]}:${fixed[0]}`);
  const inputs = new Map<string, string[]>();
  for (const [path, outs] of drv.inputDrvs) {
    let hash = memo.get(path);
    if (!hash) {
      hash = await hashDerivationModulo(parseDerivationModel(await read(path)), false, read, memo);
      memo.set(path, hash);
    }
    inputs.set(Buffer.from(hash).toString('hex'), outs);
  }
  return sha256(unparseDerivation({ ...drv, inputDrvs: inputs }, { maskOutputs }));
}
