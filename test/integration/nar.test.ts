import { chmod, mkdir, mkdtemp, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { narOfLocalPath } from '../../src/nix/nar.js';

function narOf(path: string): Buffer {
  const pieces: Buffer[] = [];
  for (const piece of narOfLocalPath(path)) pieces.push(piece);
  return Buffer.concat(pieces);
}

const nixDump = async (path: string) => Buffer.from((await execa('nix-store', ['--dump', path], { encoding: 'buffer' })).stdout);

test("a directory's NAR is byte for byte what nix-store --dump gives", async () => {
  const root = await mkdtemp(join(tmpdir(), 'evix-nar-'));
  await mkdir(join(root, 'sub', 'deeper'), { recursive: true });
  await mkdir(join(root, 'empty-dir'));
  await writeFile(join(root, 'empty'), '');
  await writeFile(join(root, 'seven'), '1234567');
  await writeFile(join(root, 'eight'), '12345678');
  await writeFile(join(root, 'Upper'), 'sorted before lower case');
  await writeFile(join(root, 'ünïcode'), 'names sort by their bytes');
  await writeFile(join(root, 'sub', 'deeper', 'big'), Buffer.alloc(3 * (1 << 20) + 5, 7));
  await writeFile(join(root, 'run.sh'), '#!/bin/sh\n');
  await chmod(join(root, 'run.sh'), 0o755);
  await writeFile(join(root, 'group-exec'), 'not executable to Nix');
  await chmod(join(root, 'group-exec'), 0o654);
  await symlink('sub/deeper', join(root, 'link'));
  await symlink('/nonexistent/target', join(root, 'dangling'));
  expect(narOf(root)).toEqual(await nixDump(root));
  // A single file, and a symlink, as the root.
  expect(narOf(join(root, 'run.sh'))).toEqual(await nixDump(join(root, 'run.sh')));
  expect(narOf(join(root, 'link'))).toEqual(await nixDump(join(root, 'link')));
});
