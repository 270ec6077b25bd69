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

/** Starts `evix worker` and waits for its "listening on" line. */
export async function startWorker(args: string[], options: { env?: Record<string, string>; netns?: string } = {}): Promise<WorkerProcess> {
  const command = options.netns ? ['ip', 'netns', 'exec', options.netns, process.execPath] : [process.execPath];
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
