/**
 * Receiving shipped sources during a connection's setup (see
 * src/nix/ship-sources.ts for what is shipped, src/nix/import-source.ts
 * for the checks).
 *
 * A SourceShelf is the worker's, shared by its connections: a source one
 * connection is receiving is not asked for again by another (a master
 * opens several connections to one worker at once); that one waits for it
 * instead. A SourceReceipt is one connection's: the sources it asked for,
 * taken in order, one part at a time.
 */
import { existsSync } from 'node:fs';
import type { StoreSource } from '../config.js';
import { SourceImport, lackingSources } from '../nix/import-source.js';

export class SourceShelf {
  /** Sources some connection is receiving: settles true once in the store. */
  readonly #arriving = new Map<string, Promise<boolean>>();
  /**
   * Sources seen valid in the store since this worker started: asked again
   * only if their directory is gone (collected), which saves a nix-store
   * call (50 ms) on every later connection's setup.
   */
  readonly #present = new Set<string>();

  /**
   * What a connection with these sources must ask for (in the store
   * neither now nor soon), registered as arriving through it, and what it
   * must wait for from other connections.
   */
  async plan(sources: readonly StoreSource[]): Promise<{ receipt: SourceReceipt; othersBringing: Array<Promise<boolean>> }> {
    const unsure = sources.filter((s) => !this.#present.has(s.storePath) || !existsSync(s.storePath));
    const lacking = new Set(await lackingSources(unsure));
    for (const { storePath } of unsure) if (!lacking.has(storePath)) this.#present.add(storePath);
    const wanted: StoreSource[] = [];
    const othersBringing: Array<Promise<boolean>> = [];
    for (const source of sources) {
      if (!lacking.has(source.storePath)) continue;
      const arriving = this.#arriving.get(source.storePath);
      if (arriving) othersBringing.push(arriving);
      else wanted.push(source);
    }
    const receipt = new SourceReceipt(wanted);
    for (const source of wanted) {
      const arrived = receipt.arrived(source.storePath);
      this.#arriving.set(source.storePath, arrived);
      void arrived.then((ok) => {
        this.#arriving.delete(source.storePath);
        if (ok) this.#present.add(source.storePath);
      });
    }
    return { receipt, othersBringing };
  }
}

export class SourceReceipt {
  readonly wanted: readonly StoreSource[];
  readonly #settled = new Map<string, (ok: boolean) => void>();
  readonly #arrived = new Map<string, Promise<boolean>>();
  #next = 0;
  #current: SourceImport | undefined;
  #bytes = 0;

  constructor(wanted: readonly StoreSource[]) {
    this.wanted = wanted;
    for (const { storePath } of wanted) this.#arrived.set(storePath, new Promise((resolve) => this.#settled.set(storePath, resolve)));
  }

  /** Settles true once `storePath` is in the store through this receipt, false if it never will be. */
  arrived(storePath: string): Promise<boolean> {
    return this.#arrived.get(storePath)!;
  }

  get complete(): boolean {
    return this.#next === this.wanted.length;
  }

  /** NAR bytes received so far. */
  get bytes(): number {
    return this.#bytes;
  }

  /**
   * Takes the next part (parts come one at a time: the caller awaits each).
   * Throws with the reason when the part is not the one expected or the
   * source fails its checks.
   */
  async part(storePath: string, data: Uint8Array, last: boolean): Promise<void> {
    const source = this.wanted[this.#next];
    if (source?.storePath !== storePath) throw new Error(`sent ${storePath}, which was not asked for${source ? ` (expected ${source.storePath})` : ''}`);
    this.#current ??= new SourceImport(source);
    this.#bytes += data.length;
    await this.#current.write(data);
    if (!last) return;
    await this.#current.finish();
    this.#current = undefined;
    this.#next++;
    this.#settled.get(storePath)!(true);
  }

  /** Gives up: what was half received is removed, and waiting connections learn it will not arrive. */
  async abandon(): Promise<void> {
    for (const settle of this.#settled.values()) settle(false);
    await this.#current?.discard();
  }
}
