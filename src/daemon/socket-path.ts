/**
 * Where the daemon listens: $EVIX_SOCKET, else /run/user/UID/evix.sock when
 * the user has a runtime directory, else a private directory of the user's
 * under the temporary directory.
 */
import { existsSync } from 'node:fs';
import { lstat, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';

export function defaultSocketPath(): string {
  return process.env.EVIX_SOCKET || privateSocketPath();
}

/** The socket in the user's runtime directory, or in a private directory of theirs under the temporary directory. */
function privateSocketPath(): string {
  const uid = process.getuid?.() ?? 0;
  const runtime = `/run/user/${uid}`;
  return existsSync(runtime) ? join(runtime, 'evix.sock') : join(tmpdir(), `evix-${uid}`, 'evix.sock');
}

/**
 * Makes the socket's directory 0700 when it is the private one under the
 * temporary directory and does not exist yet. No other directory is made:
 * one the user named (--socket, $EVIX_SOCKET) must exist, or a typo would
 * leave directories wherever it pointed. An existing one is left as it is
 * (the socket itself is 0600), but it must be a real directory, and one of
 * ours unless it is the sticky kind (/tmp), where no one else can replace
 * our socket.
 */
export async function preparePrivateDirectory(socketPath: string): Promise<void> {
  const dir = dirname(socketPath);
  if (!existsSync(dir)) {
    if (socketPath !== privateSocketPath()) throw new Error(`the socket's directory ${dir} does not exist: make it, or choose another socket`);
    await mkdir(dir, { mode: 0o700 });
  }
  const info = await lstat(dir);
  if (!info.isDirectory()) throw new Error(`${dir} is not a directory`);
  const ours = process.getuid === undefined || info.uid === process.getuid();
  const sticky = (info.mode & 0o1000) !== 0;
  if (!ours && !sticky) throw new Error(`${dir} belongs to another user`);
}
