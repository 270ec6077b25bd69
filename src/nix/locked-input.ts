/**
 * A locked flake input as the `path` input on its store path that stands
 * for it where the source was fetched already: by the master's lock of a
 * flake (src/nix/flake.ts) and for every input shipped to a remote
 * (src/nix/ship-sources.ts). Its own module so that locking a flake loads
 * neither the NAR code nor node:crypto (21 ms of every start here).
 */
/**
 * A locked input as a path input on its store path (with its NAR hash when
 * known), and the attributes of its sourceInfo that Nix derives from the
 * locked input (as Nix 2.8's emitTreeAttrs does).
 */
export function storePathInput(
  locked: Record<string, unknown>,
  storePath: string,
  narHash: unknown = locked.narHash,
): { locked: Record<string, unknown>; shippedInfo: Record<string, unknown> } {
  const info: Record<string, unknown> = {};
  if (locked.type === 'git') info.submodules = locked.submodules ?? false;
  if (typeof locked.rev === 'string') Object.assign(info, { rev: locked.rev, shortRev: locked.rev.slice(0, 7) });
  if (locked.revCount !== undefined) info.revCount = locked.revCount;
  // Newer Nix describe a dirty tree's revision too.
  if (typeof locked.dirtyRev === 'string') Object.assign(info, { dirtyRev: locked.dirtyRev, dirtyShortRev: locked.dirtyShortRev });
  if (typeof locked.lastModified === 'number') {
    info.lastModified = locked.lastModified;
    info.lastModifiedDate = new Date(locked.lastModified * 1000).toISOString().replace(/\.\d+Z$/, '').replace(/\D/g, '');
  }
  // With its narHash it is a locked input, which pure evaluation requires.
  const pinned = narHash === undefined ? {} : { narHash };
  return { locked: { type: 'path', path: storePath, ...pinned, ...(locked.dir === undefined ? {} : { dir: locked.dir }) }, shippedInfo: info };
}
