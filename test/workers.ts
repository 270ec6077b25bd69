/** Real `evix worker` processes for tests, on loopback or in a network namespace. */
import { execa, type ResultPromise } from 'execa';
import { CLI } from './helpers.js';

export interface WorkerProcess {
  port: number;
  host: string;
  process: ResultPromise;
  stderr: () => string;
  stop: () => Promise<void>;
}

/**
 * Starts `evix worker` and waits for its "listening on" line. `hide`: paths
 * the worker cannot see (an empty tmpfs over each, in a mount namespace of
 * its own; needs root), as on another machine: `/nix` gives it a store of
 * its own.
 */
export async function startWorker(args: string[], options: { env?: Record<string, string>; netns?: string; hide?: string[] } = {}): Promise<WorkerProcess> {
  const hidden = (options.hide ?? []).map((path) => `mount -t tmpfs none '${path}' && `).join('');
  const command = options.netns
    ? ['ip', 'netns', 'exec', options.netns, process.execPath]
    : hidden
      ? ['unshare', '-m', 'sh', '-c', `${hidden}exec "$@"`, 'sh', process.execPath]
      : [process.execPath];
  const child = execa(command[0]!, [...command.slice(1), CLI, 'worker', ...args], { env: options.env, reject: false, buffer: false });
  let stderr = '';
  const address = await new Promise<{ host: string; port: number }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`worker did not start: ${stderr}`)), 15_000);
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      const match = /listening on (?:\[([^\]]+)\]|([^:\s]+)):(\d+)/.exec(stderr);
      if (match) {
        clearTimeout(timer);
        resolve({ host: match[1] ?? match[2]!, port: Number(match[3]) });
      }
    });
    void child.then(() => {
      clearTimeout(timer);
      reject(new Error(`worker exited: ${stderr}`));
    });
  });
  return {
    ...address,
    process: child,
    stderr: () => stderr,
    stop: async () => {
      child.kill('SIGKILL');
      await child;
    },
  };
}
