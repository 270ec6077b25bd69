/**
 * What differs between the Nix versions evix runs on, decided once from
 * the version Nix reports (nixIdentity), so that the rest of evix asks a
 * question instead of comparing versions. Tested on Nix 2.8 (Debian
 * bookworm), 2.26 (trixie) and 2.34 (sid); see scripts/nix-versions.
 */
import { nixIdentity } from './identity.js';

export interface NixDialect {
  /**
   * Whether `nix repl` evaluates in pure mode when told (`--option pure-eval
   * true`). Nix 2.8's repl turns pure evaluation off whatever it is told,
   * so flakes are evaluated there in restricted mode, the nearest it
   * allows; newer repls evaluate flakes as `nix eval` does, in pure mode
   * (in which restricted mode refuses their `path:` inputs).
   */
  replPureEval: boolean;
}

export function dialectOf(nixVersion: string): NixDialect {
  const [major = 0, minor = 0] = nixVersion.split('.').map((part) => Number.parseInt(part, 10));
  return { replPureEval: major > 2 || (major === 2 && minor > 8) };
}

export async function nixDialect(): Promise<NixDialect> {
  return dialectOf((await nixIdentity()).nixVersion);
}
