/**
 * Where the daemon listens: $EVIX_SOCKET, else /run/user/UID/evix.sock when
 * the user has a runtime directory, else a private directory of the user's
 * under the temporary directory. The directory is made 0700.
 */
import { existsSync } from 'node:fs';
import { mkdir, chmod, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function defaultSocketPath(): string {
  if (process.env.EVIX_SOCKET) return process.env.EVIX_SOCKET;
  const uid = process.getuid?.() ?? 0;
  const runtime = `/run/user/${uid}`;
  return existsSync(runtime) ? join(runtime, 'evix.sock') : join(tmpdir(), `evix-${uid}`, 'evix.sock');
}

/** Makes the socket's directory, private to the user, and refuses one that is not theirs. */
export async function preparePrivateDirectory(socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const info = await lstat(dir);
  if (!info.isDirectory() || (process.getuid && info.uid !== process.getuid())) throw new Error(`${dir} is not a directory of this user's`);
  if (!dir.startsWith('/run/user/')) await chmod(dir, 0o700);
}
