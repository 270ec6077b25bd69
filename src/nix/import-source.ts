/**
 * A worker's side of shipped sources: which it lacks, and importing one
 * from its NAR with every check made before Nix sees it as valid.
 *
 * A source is accepted only if the bytes received hash to its NAR hash and
 * have its size, and adding the unpacked tree to the store gives exactly
 * its store path (which the NAR hash and name determine). A master can
 * therefore only put into a worker's store content-addressed paths whose
 * content matches their name: nothing it did not hash, and nothing under
 * a path another content would have.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StoreSource } from '../config.js';
import { NixCommandError, runNix } from './commands.js';
import { nixEnvironment } from './environment.js';
import { parseSha256, storePathName } from './store-path.js';

/** The paths of `sources` this store does not hold. */
export async function lackingSources(sources: readonly StoreSource[]): Promise<string[]> {
  if (sources.length === 0) return [];
  const invalid = await runNix('nix-store', ['--check-validity', '--print-invalid', ...sources.map((s) => s.storePath)], { cwd: '/' });
  return invalid.split('\n').filter((line) => line !== '');
}

/** One source being received: parts in, checked and added to the store at the end. */
export class SourceImport {
  readonly source: StoreSource;
  readonly #hash = createHash('sha256');
  readonly #directory: Promise<string>;
  readonly #restore: Promise<{ stdin: NodeJS.WritableStream; done: Promise<void> }>;
  #received = 0;

  constructor(source: StoreSource) {
    this.source = source;
    this.#directory = mkdtemp(join(tmpdir(), 'evix-source-'));
    this.#restore = this.#directory.then((directory) => restoreInto(join(directory, storePathName(source.storePath)!)));
  }

  /** Takes the next part; resolves once it is written (the caller holds more until then). */
  async write(data: Uint8Array): Promise<void> {
    this.#received += data.length;
    if (this.#received > this.source.narSize) throw new NixCommandError(`${this.source.storePath}: more than its ${this.source.narSize} bytes were sent`);
    this.#hash.update(data);
    const { stdin, done } = await this.#restore;
    // A restore that fails stops reading: its end, not a drain, settles the wait.
    if (!stdin.write(data)) await Promise.race([once(stdin, 'drain'), done]);
  }

  /** After the last part: checks size, hash and store path, and adds the source to the store. */
  async finish(): Promise<void> {
    const { stdin, done } = await this.#restore;
    stdin.end();
    await done;
    const { storePath, narHash, narSize } = this.source;
    if (this.#received !== narSize) throw new NixCommandError(`${storePath}: ${this.#received} bytes received, ${narSize} expected`);
    if (!Buffer.from(parseSha256(narHash)!).equals(this.#hash.digest())) throw new NixCommandError(`${storePath}: what was received does not match its NAR hash`);
    const tree = join(await this.#directory, storePathName(storePath)!);
    const added = (await runNix('nix-store', ['--add-fixed', '--recursive', 'sha256', tree], { cwd: '/' })).trim();
    if (added !== storePath) throw new NixCommandError(`${storePath}: its content is stored as ${added}`);
    await this.discard();
  }

  /** Removes what was unpacked (the store keeps its own copy). */
  async discard(): Promise<void> {
    await this.#restore.then(({ stdin }) => stdin.end(), () => {});
    await rm(await this.#directory, { recursive: true, force: true });
  }
}

/** `nix-store --restore` unpacking a NAR from its stdin into `path`. */
function restoreInto(path: string): { stdin: NodeJS.WritableStream; done: Promise<void> } {
  const child = spawn('nix-store', ['--restore', path], { env: nixEnvironment(), stdio: ['pipe', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8').on('data', (text: string) => (stderr += text));
  // A failed restore shows at finish(); writes to its closed stdin must not throw meanwhile.
  child.stdin.on('error', () => {});
  const done = new Promise<void>((resolve, reject) => {
    child.on('error', (error) => reject(new NixCommandError(`cannot run nix-store: ${error.message}`)));
    child.on('close', (code) => (code === 0 ? resolve() : reject(new NixCommandError(`not a valid NAR: ${stderr.trim().split('\n').at(-1) ?? `nix-store exited ${code}`}`))));
  });
  done.catch(() => {});
  return { stdin: child.stdin, done };
}
