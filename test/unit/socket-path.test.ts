import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { preparePrivateDirectory } from '../../src/daemon/socket-path.js';

test('a missing directory is made private; an existing one, like /tmp, is left alone', async () => {
  const base = await mkdtemp(join(tmpdir(), 'evix-sock-'));
  await preparePrivateDirectory(join(base, 'run', 'evix.sock'));
  expect((await stat(join(base, 'run'))).mode & 0o777).toBe(0o700);
  const before = (await stat(tmpdir())).mode;
  await preparePrivateDirectory(join(tmpdir(), 'evix.sock'));
  expect((await stat(tmpdir())).mode).toBe(before);
});
