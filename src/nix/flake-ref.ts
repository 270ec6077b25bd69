/**
 * Flake references as text, read without Nix: their fragment, and one
 * spelling for a reference to a local directory.
 */
import { isAbsolute, resolve } from 'node:path';

export function splitFlakeReference(refWithFragment: string): { ref: string; fragment: string } {
  const hash = refWithFragment.indexOf('#');
  return hash === -1 ? { ref: refWithFragment, fragment: '' } : { ref: refWithFragment.slice(0, hash), fragment: refWithFragment.slice(hash + 1) };
}

/**
 * The reference with its local directory made absolute against `workdir`,
 * as Nix resolves it there: `.#x`, `./#x`, `../repo#x` and `/repo#x` (from
 * /repo) are one spelling, and so are `path:.#x` and `path:/repo#x`. A bare
 * path and a `path:` one stay apart: inside a git repository Nix reads the
 * first as the repository's tracked files and the second as the whole
 * directory, and telling whether they meet would take Nix's own search.
 * Any other reference (github:, a registry name, git+file://) is left as
 * written.
 */
export function canonicalFlakeRef(refWithFragment: string, workdir: string): string {
  const { ref, fragment } = splitFlakeReference(refWithFragment);
  // An empty fragment is the flake itself, as no fragment is.
  return fragment === '' ? canonicalLocation(ref, workdir) : `${canonicalLocation(ref, workdir)}#${fragment}`;
}

function canonicalLocation(ref: string, workdir: string): string {
  const query = ref.indexOf('?');
  const [location, parameters] = query === -1 ? [ref, ''] : [ref.slice(0, query), ref.slice(query)];
  const scheme = location.startsWith('path:') && !location.startsWith('path://') ? 'path:' : '';
  const path = location.slice(scheme.length);
  // A bare reference is a path only when it starts like one: `nixpkgs/branch` is a registry name.
  const local = scheme === 'path:' ? path !== '' : path.startsWith('.') || isAbsolute(path);
  return local ? `${scheme}${resolve(workdir, path)}${parameters}` : ref;
}
