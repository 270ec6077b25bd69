/**
 * `nix path-info --json` in either of its shapes: Nix 2.8 prints a list of
 * objects naming their `path` (`valid: false` for one the store lacks);
 * newer Nix (2.19 on) an object keyed by path, `null` for one it lacks.
 */
export interface PathInfo {
  narHash: string;
  narSize: number;
  references?: string[];
}

/** Each path's info, or undefined for a path the store lacks. */
export function parsePathInfo(json: string): Map<string, PathInfo | undefined> {
  const output = JSON.parse(json) as unknown;
  if (Array.isArray(output)) {
    return new Map((output as Array<PathInfo & { path: string; valid?: boolean }>).map((info) => [info.path, info.valid === false ? undefined : info]));
  }
  return new Map(Object.entries(output as Record<string, PathInfo | null>).map(([path, info]) => [path, info ?? undefined]));
}
