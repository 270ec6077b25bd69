/**
 * Which store paths the local Nix store holds as valid, read from Nix's own
 * database (node:sqlite, read-only). A read-only sweep (src/worker/sweep.ts)
 * computes .drv paths without writing them; each one it reports is kept only
 * if this says the store already has it, which is exactly what writing it
 * would have checked first.
 *
 * Reading the database costs about 2 µs a path in batches (10 µs one at a
 * time, and a `nix-store --check-validity` process per batch costs more than
 * the evaluation it would save). SQLite's own locking makes reading beside
 * Nix's writers safe, and each query sees what was committed before it.
 *
 * Only the store Nix uses without being told otherwise qualifies: with
 * --store, --eval-store or NIX_REMOTE naming another store, the local
 * database says nothing about it, and sweeps write instead.
 */
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/** Paths per query: SQLite allows 32766 parameters; a few hundred is past where batching stops paying. */
const BATCH = 256;

/**
 * SQLite's page cache for the database, in KiB. Its default (2 MB) holds
 * about half of the path index of a store of 200k paths, so lookups in
 * hash order (store paths are random) read a page from disk nearly every
 * time: 93k reads for 100k paths, 7 µs a path. Pages are allocated only
 * when read; the index of such a store is about 16 MB.
 */
const PAGE_CACHE_KIB = 24 * 1024;

/** NIX_REMOTE values that mean the store whose database is on this machine. */
const LOCAL_STORES = new Set(['', 'auto', 'local', 'daemon', 'unix://']);

export interface StoreChoice {
  evalStore?: string | undefined;
  nixOptions: ReadonlyArray<[string, string]>;
}

export class StoreValidity {
  readonly #db: DatabaseSync;
  readonly #batch: StatementSync;
  readonly #one: StatementSync;

  private constructor(db: DatabaseSync) {
    this.#db = db;
    this.#batch = db.prepare(`SELECT path FROM ValidPaths WHERE path IN (${Array(BATCH).fill('?').join(',')})`);
    this.#one = db.prepare('SELECT path FROM ValidPaths WHERE path = ?');
  }

  /**
   * The local store's database, or undefined when the run uses another
   * store or the database cannot be read (no Nix state here, permissions).
   */
  static open(choice: StoreChoice, env: NodeJS.ProcessEnv = process.env): StoreValidity | undefined {
    if (choice.evalStore !== undefined || choice.nixOptions.some(([key]) => key === 'store' || key === 'eval-store')) return undefined;
    if (!LOCAL_STORES.has(env['NIX_REMOTE'] ?? '')) return undefined;
    const file = join(env['NIX_STATE_DIR'] ?? '/nix/var/nix', 'db', 'db.sqlite');
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(file, { readOnly: true });
      db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
      // Preparing the queries reads the schema: a database that cannot be read fails here.
      return new StoreValidity(db);
    } catch {
      db?.close();
      return undefined;
    }
  }

  /** Those of `paths` the store does not hold as valid. */
  invalid(paths: readonly string[]): Set<string> {
    const valid = new Set<string>();
    let i = 0;
    for (; i + BATCH <= paths.length; i += BATCH) {
      for (const row of this.#batch.all(...paths.slice(i, i + BATCH))) valid.add(row['path'] as string);
    }
    for (; i < paths.length; i++) if (this.#one.get(paths[i]!)) valid.add(paths[i]!);
    return new Set(paths.filter((path) => !valid.has(path)));
  }

  close(): void {
    this.#db.close();
  }
}
