/**
 * --constituents, the store part: an aggregate's .drv gets its constituents
 * as input derivations (each by its first output, as nix-eval-jobs does,
 * keeping any output it already used where nix-eval-jobs would drop it), its
 * `out` path computed anew, and is added to the store as a new .drv. Nix
 * checks the output path when it registers the file, so a wrong computation
 * fails loudly instead of writing a broken derivation.
 */
import { readFile } from 'node:fs/promises';
import { basename } from 'node:path';
import { parseDerivationModel, unparseDerivation } from '../nix/derivation-file.js';
import { FLAKE_FEATURES, runNix } from '../nix/commands.js';
import { hashDerivationModulo, makeOutputPath } from '../nix/store-path.js';
import { nixString } from '../nix/syntax.js';

const read = (path: string) => readFile(path, 'utf8');

export async function rewriteAggregate(drvPath: string, constituents: readonly string[], memo: Map<string, Uint8Array>, cwd: string): Promise<{ drvPath: string; out: string }> {
  const drv = parseDerivationModel(await read(drvPath));
  for (const child of constituents) {
    const childDrv = parseDerivationModel(await read(child));
    const first = [...childDrv.outputs.keys()].sort()[0];
    if (first === undefined) continue;
    drv.inputDrvs.set(child, [...new Set([...(drv.inputDrvs.get(child) ?? []), first])]);
  }
  // The name without the hash and `.drv`.
  const drvName = basename(drvPath).slice(33, -'.drv'.length);
  const hash = await hashDerivationModulo(drv, true, read, memo);
  const out = makeOutputPath('out', hash, drvName);
  drv.env.set('out', out);
  drv.outputs.set('out', [out, '', '']);
  const references = [...drv.inputDrvs.keys(), ...drv.inputSrcs];
  // builtins.toFile adds a text file with the references its string's context
  // holds, which is how Nix itself writes a .drv; storePath gives each
  // reference as plain context.
  const expr = `builtins.toFile ${nixString(`${drvName}.drv`)} (${nixString(unparseDerivation(drv))} + builtins.substring 0 0 (builtins.concatStringsSep "" (map builtins.storePath ${`[ ${references.map(nixString).join(' ')} ]`})))`;
  // `nix eval`, not `nix-instantiate --eval`: the latter only computes the
  // path of a toFile, in read-only mode (checked).
  const written = await runNix('nix', [...FLAKE_FEATURES, 'eval', '--impure', '--raw', '--expr', expr], { cwd });
  return { drvPath: written.trim(), out };
}
