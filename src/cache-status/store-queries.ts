/**
 * StoreQueries answered by Nix's own commands, many paths per call:
 * `nix-store --check-validity --print-invalid` for the local store and
 * `nix path-info --json --store SUBSTITUTER` for each configured substituter
 * (as `nix show-config` reports them with the run's --option values). A
 * substituter that cannot be asked (offline) counts as not having the paths.
 */
import { readFile } from 'node:fs/promises';
import type { Logger } from '../log.js';
import { parseDerivation } from '../nix/derivation-file.js';
import { parsePathInfo } from '../nix/path-info.js';
import { FLAKE_FEATURES, runNix } from '../nix/commands.js';
import type { StoreQueries } from './missing.js';

/** Paths per command line, well under the kernel's argument limit. */
const CHUNK = 1000;

function chunks<T>(items: T[]): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += CHUNK) out.push(items.slice(i, i + CHUNK));
  return out;
}

export function nixStoreQueries(nixOptions: ReadonlyArray<[string, string]>, cwd: string, log: Logger): StoreQueries {
  const options = nixOptions.flatMap(([key, value]) => ['--option', key, value]);
  let substituters: Promise<string[]> | undefined;
  const configured = () =>
    (substituters ??= runNix('nix', [...FLAKE_FEATURES, 'show-config', '--json', ...options], { cwd }).then((json) => {
      const config = JSON.parse(json) as { substituters?: { value?: string[] } };
      return config.substituters?.value ?? [];
    }));

  return {
    async invalid(paths) {
      const invalid = new Set<string>();
      for (const chunk of chunks(paths)) {
        const out = await runNix('nix-store', ['--check-validity', '--print-invalid', ...chunk], { cwd });
        for (const line of out.split('\n')) if (line !== '') invalid.add(line);
      }
      return invalid;
    },
    async substitutable(paths) {
      const found = new Map<string, string[]>();
      for (const store of await configured()) {
        const ask = paths.filter((p) => !found.has(p));
        for (const chunk of chunks(ask)) {
          let json: string;
          try {
            json = await runNix('nix', [...FLAKE_FEATURES, 'path-info', '--json', ...options, '--store', store, ...chunk], { cwd });
          } catch (error) {
            log.warn({ substituter: store, err: (error as Error).message }, 'cannot ask substituter; taking its paths as absent');
            break;
          }
          for (const [path, info] of parsePathInfo(json)) if (info) found.set(path, info.references ?? []);
        }
      }
      return found;
    },
    async derivation(drvPath) {
      return parseDerivation(await readFile(drvPath, 'utf8'));
    },
  };
}
