import { createHash } from 'node:crypto';
import { expect, test } from 'vitest';
import { fromNixBase32, nixBase32, parseSha256, sourceStorePath, sriSha256, storePathName } from '../../src/nix/store-path.js';

const digest = createHash('sha256').update('evix').digest();
const NIX_EMPTY_FILE = '/nix/store/lx5i78a4izwk2qj1nq8rdc07y8zrwy90-empty';

test('Nix base-32 reads back what it writes, and refuses what it cannot be', () => {
  for (let i = 0; i < 50; i++) {
    const bytes = createHash('sha256').update(String(i)).digest();
    expect(Buffer.from(fromNixBase32(nixBase32(bytes), 32)!)).toEqual(bytes);
  }
  expect(fromNixBase32('e'.repeat(52), 32)).toBeUndefined(); // 'e' is not in the alphabet
  expect(fromNixBase32('0'.repeat(51), 32)).toBeUndefined();
  expect(fromNixBase32(`z${'0'.repeat(51)}`, 32)).toBeUndefined(); // bits past the 256th
});

test('a sha256 in each form Nix prints gives the same digest', () => {
  for (const form of [sriSha256(digest), `sha256:${nixBase32(digest)}`, `sha256:${digest.toString('hex')}`]) {
    expect(Buffer.from(parseSha256(form)!)).toEqual(digest);
  }
  expect(parseSha256('sha1:abc')).toBeUndefined();
  expect(parseSha256('sha256-AAAA')).toBeUndefined();
});

test("a source's store path is Nix's own for the same NAR hash and name", () => {
  // `nix-store --add` of an empty regular file named `empty`: its NAR hash (as `nix path-info` shows it, in both forms) and path.
  const narHash = parseSha256('sha256-d6xi4mKdjkX2JFicDIv5niSzpyI0m/Hnm8GGAIU04kY=')!;
  expect(Buffer.from(parseSha256('sha256:0ip26j2h11n1kgkz36rl4akv694yz65hr72q4kv4b3lxcbi65b3p')!)).toEqual(Buffer.from(narHash));
  expect(sourceStorePath(narHash, 'empty')).toBe(NIX_EMPTY_FILE);
  expect(storePathName(NIX_EMPTY_FILE)).toBe('empty');
  expect(storePathName('/nix/store/short-x')).toBeUndefined();
  expect(storePathName(`${NIX_EMPTY_FILE}/sub`)).toBeUndefined();
});
