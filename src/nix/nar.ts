/**
 * Nix's archive format (NAR) of a local path, written here: the bytes
 * `nix-store --dump` gives, which is what `nix-store --add` hashes. Reading
 * a small directory this way takes about a millisecond; running
 * `nix-store --dump` took 50 ms, on the path of every run with remotes.
 *
 * The format: the string "nix-archive-1", then the node. Every string is
 * its length (64-bit little-endian) and its bytes, padded with zeros to a
 * multiple of 8. A node is `( type regular [executable ""] contents S )`,
 * `( type symlink target S )`, or `( type directory (entry ( name S node N
 * ))* )` with the entries in byte order of their names.
 */
import { closeSync, lstatSync, openSync, readSync, readdirSync, readlinkSync } from 'node:fs';
import { join } from 'node:path';

/** Files are read in pieces of at most this many bytes. */
const PIECE_BYTES = 1 << 20;

function nixString(bytes: Buffer): Buffer[] {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(bytes.length));
  const padding = (8 - (bytes.length % 8)) % 8;
  return padding === 0 ? [length, bytes] : [length, bytes, Buffer.alloc(padding)];
}

const text = (...words: string[]) => Buffer.concat(words.flatMap((w) => nixString(Buffer.from(w))));

/**
 * The NAR of `path`, in pieces as it is read. The reads are synchronous:
 * a source is read before its connection has anything else to do (to hash
 * it, or to send it between waits for the socket to drain), and a
 * directory's metadata read asynchronously cost a round trip to the thread
 * pool per call, with the process idle in between: 10-15 ms for the four
 * files of the benchmark's fixtures, on the path of every run with remotes.
 */
export function* narOfLocalPath(path: string): Generator<Buffer> {
  yield text('nix-archive-1');
  yield* node(path);
}

function* node(path: string): Generator<Buffer> {
  const stat = lstatSync(path);
  if (stat.isSymbolicLink()) {
    yield Buffer.concat([text('(', 'type', 'symlink', 'target'), ...nixString(readlinkSync(path, { encoding: 'buffer' })), text(')')]);
  } else if (stat.isFile()) {
    // Nix marks a file executable when its owner may execute it.
    yield text('(', 'type', 'regular', ...(stat.mode & 0o100 ? ['executable', ''] : []), 'contents');
    yield* contents(path, stat.size);
    yield text(')');
  } else if (stat.isDirectory()) {
    yield text('(', 'type', 'directory');
    const names = readdirSync(path, { encoding: 'buffer' }).sort(Buffer.compare);
    for (const name of names) {
      yield Buffer.concat([text('entry', '(', 'name'), ...nixString(name), text('node')]);
      yield* node(join(path, name.toString()));
      yield text(')');
    }
    yield text(')');
  } else {
    throw new Error(`${path}: not a regular file, directory or symlink`);
  }
}

/** A regular file's contents as a NAR string: its size, its bytes as read, its padding. */
function* contents(path: string, size: number): Generator<Buffer> {
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(size));
  yield length;
  const fd = openSync(path, 'r');
  try {
    let read = 0;
    for (;;) {
      // One byte more than is left: a file that grew is caught.
      const piece = Buffer.allocUnsafe(Math.min(PIECE_BYTES, size - read + 1));
      const n = readSync(fd, piece, 0, piece.length, read);
      if (n === 0) break;
      read += n;
      if (read > size) break;
      yield piece.subarray(0, n);
    }
    if (read !== size) throw new Error(`${path} changed while it was read`);
  } finally {
    closeSync(fd);
  }
  const padding = (8 - (size % 8)) % 8;
  if (padding > 0) yield Buffer.alloc(padding);
}
