import { expect, test } from 'vitest';
import { canonicalFlakeRef, splitFlakeReference } from '../../src/nix/flake-ref.js';

test('a reference is split at its first #', () => {
  expect(splitFlakeReference('.#a.b')).toEqual({ ref: '.', fragment: 'a.b' });
  expect(splitFlakeReference('github:o/r')).toEqual({ ref: 'github:o/r', fragment: '' });
});

test('every spelling of a local directory is its absolute path, against the working directory', () => {
  for (const spelling of ['.#jobs', './#jobs', '/repo#jobs', '/repo/#jobs', '../repo#jobs', './sub/..#jobs']) expect(canonicalFlakeRef(spelling, '/repo')).toBe('/repo#jobs');
  expect(canonicalFlakeRef('./sub?dir=x#jobs', '/repo')).toBe('/repo/sub?dir=x#jobs');
  expect(canonicalFlakeRef('.hidden', '/repo')).toBe('/repo/.hidden');
  // An empty fragment is the flake itself, as none is.
  expect(canonicalFlakeRef('.#', '/repo')).toBe('/repo');
});

test('path: references are made absolute too, and stay path: (a git repository reads otherwise)', () => {
  expect(canonicalFlakeRef('path:.#jobs', '/repo')).toBe('path:/repo#jobs');
  expect(canonicalFlakeRef('path:./sub?narHash=x#jobs', '/repo')).toBe('path:/repo/sub?narHash=x#jobs');
  expect(canonicalFlakeRef('path:/repo/#jobs', '/elsewhere')).toBe('path:/repo#jobs');
  expect(canonicalFlakeRef('path:.#jobs', '/repo')).not.toBe(canonicalFlakeRef('.#jobs', '/repo'));
});

test('references to no local directory are left as written', () => {
  for (const ref of ['github:NixOS/nixpkgs#hello', 'nixpkgs#hello', 'nixpkgs/nixos-24.05#hello', 'git+file:///repo?ref=main#x', 'path://host/x', 'sub#x']) {
    expect(canonicalFlakeRef(ref, '/repo')).toBe(ref);
  }
});
