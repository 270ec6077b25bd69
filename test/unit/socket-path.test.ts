import { existsSync } from 'node:fs';
import { mkdtemp, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, expect, test } from 'vitest';
import { defaultSocketPath, preparePrivateDirectory } from '../../src/daemon/socket-path.js';

const saved = { TMPDIR: process.env.TMPDIR, EVIX_SOCKET: process.env.EVIX_SOCKET };
afterEach(() => {
  for (const [name, value] of Object.entries(saved)) {
    if (value === undefined) delete process.env[name];
    else process.env[name] = value;
  }
});

test('an existing directory, like /tmp, is left alone', async () => {
  const before = (await stat(tmpdir())).mode;
  await preparePrivateDirectory(join(tmpdir(), 'evix.sock'));
  expect((await stat(tmpdir())).mode).toBe(before);
});

test('a missing directory the user named is refused, and not made', async () => {
  const base = await mkdtemp(join(tmpdir(), 'evix-sock-'));
  await expect(preparePrivateDirectory(join(base, 'run', 'evix.sock'))).rejects.toThrow(`the socket's directory ${join(base, 'run')} does not exist`);
  expect(existsSync(join(base, 'run'))).toBe(false);
});

test.skipIf(existsSync(`/run/user/${process.getuid?.() ?? 0}`))('the default private directory under the temporary directory is made 0700', async () => {
  process.env.TMPDIR = await mkdtemp(join(tmpdir(), 'evix-sock-'));
  delete process.env.EVIX_SOCKET;
  const socket = defaultSocketPath();
  expect(dirname(socket)).toBe(join(process.env.TMPDIR, `evix-${process.getuid?.() ?? 0}`));
  await preparePrivateDirectory(socket);
  expect((await stat(dirname(socket))).mode & 0o777).toBe(0o700);
});
