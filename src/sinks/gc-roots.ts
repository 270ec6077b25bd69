/**
 * --gc-roots-dir: a garbage-collector root per derivation, so that
 * `nix-store --gc` keeps the evaluated .drv files. Each root is a symlink
 * DIR/<name>.drv -> the .drv, registered with Nix as an indirect root (a
 * symlink to it under the state directory's gcroots/auto), which is what
 * Nix's own `--add-root --indirect` does. Writes run in the background,
 * bounded; `drain()` waits for them.
 */
import { createHash } from 'node:crypto';
import { mkdir, symlink } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import PQueue from 'p-queue';
import type { Logger } from '../log.js';

export class GcRootsSink {
  readonly #dir: string;
  readonly #autoDir: string;
  readonly #log: Logger;
  readonly #queue = new PQueue({ concurrency: 8 });
  readonly #seen = new Set<string>();
  #failures = 0;

  constructor(dir: string, log: Logger, stateDir = process.env.NIX_STATE_DIR ?? '/nix/var/nix') {
    this.#dir = resolve(dir);
    this.#autoDir = join(stateDir, 'gcroots', 'auto');
    this.#log = log;
  }

  async open(): Promise<void> {
    await mkdir(this.#dir, { recursive: true });
    await mkdir(this.#autoDir, { recursive: true });
  }

  add(drvPath: string): void {
    if (this.#seen.has(drvPath)) return;
    this.#seen.add(drvPath);
    void this.#queue.add(() => this.#register(drvPath));
  }

  /** Waits for every root to be written; resolves the number that failed. */
  async drain(): Promise<number> {
    await this.#queue.onIdle();
    return this.#failures;
  }

  async #register(drvPath: string): Promise<void> {
    const root = join(this.#dir, basename(drvPath));
    const link = join(this.#autoDir, createHash('sha256').update(root).digest('hex').slice(0, 32));
    try {
      await symlinkIfAbsent(drvPath, root);
      await symlinkIfAbsent(root, link);
    } catch (error) {
      this.#failures++;
      this.#log.error({ drvPath, err: (error as Error).message }, 'cannot add a gc root');
    }
  }
}

async function symlinkIfAbsent(target: string, path: string): Promise<void> {
  try {
    await symlink(target, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  }
}
