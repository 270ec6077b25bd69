/**
 * Which store paths the local Nix store holds as valid, read from Nix's own
 * database (node:sqlite, read-only). A read-only sweep (src/worker/sweep.ts)
 * computes .drv paths without writing them; each one it reports is kept only
 * if this says the store already has it, which is exactly what writing it
 * would have checked first.
 *
 * A line of a sweep's descriptions is one query: about 2 µs a path once
 * its index page is cached, and 4 µs over a run of 100k here, where the
 * index is larger than the page cache and a missing page is a 4 KiB pread
 * (10 µs a path one at a time, and a `nix-store --check-validity` process
 * per batch costs more than the evaluation it would save). SQLite's own locking makes reading beside
 * Nix's writers safe, and each query sees what was committed before it.
 *
 * Only the store Nix uses without being told otherwise qualifies: with
 * --store, --eval-store or NIX_REMOTE naming another store, the local
 * database says nothing about it, and sweeps write instead.
 */
import { accessSync, constants } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync, type StatementSync } from 'node:sqlite';

/**
 * SQLite's page cache for the database, in KiB: it grows with the lookups
 * made, from 512 KiB to 8 MiB, a KiB for every 4 paths looked up.
 *
 * A page read into the cache for the first time lands in fresh memory, and
 * the page fault costs more than the read (about 15 µs here, a VM). So a
 * cache sized for 100k lookups made small runs slow: the 1296 lookups of
 * the 6^4 tree took 36 ms at 8 MiB, nearly one fault each, and 11 ms at
 * 512 KiB. Store paths are random, so past the path index's inner pages
 * most lookups read a leaf page whatever the size, and for 100k lookups
 * (78k reads at 8 MiB) a larger cache only saves a few reads a fault
 * costs: 8 MiB was the best of 0.25-64 MiB (395-455 ms, 2 MiB 435-466,
 * 512 KiB 510-570), and grown to it on the way the run pays its faults
 * once it has lookups to spread them over.
 */
const PAGE_CACHE_KIB = { first: 512, last: 8 * 1024, lookupsPerKiB: 4 };

/** The page cache for a connection that has made `lookups` lookups: see PAGE_CACHE_KIB. */
export function pageCacheKiB(lookups: number): number {
  const { first, last, lookupsPerKiB } = PAGE_CACHE_KIB;
  return Math.min(last, Math.max(first, 2 ** Math.floor(Math.log2(Math.max(1, lookups / lookupsPerKiB)))));
}

/** NIX_REMOTE values that mean the store whose database is on this machine. */
const LOCAL_STORES = new Set(['', 'auto', 'local', 'daemon', 'unix://']);

export interface StoreChoice {
  evalStore?: string | undefined;
  nixOptions: ReadonlyArray<[string, string]>;
}

/**
 * One connection per database file in this process, shared by every
 * evaluator that reads it: the page cache is what makes a lookup cheap,
 * and with a connection each, two workers read every page twice and held
 * it twice (flat 100k with two workers: the master's CPU 2.0 s and peak RSS
 * 190 MiB, against 1.4 s and 125 MiB with one).
 */
interface Connection {
  db: DatabaseSync;
  /**
   * The paths of a JSON list that are not valid. One parameter however
   * many paths, and rows only for the missing ones (usually none), where
   * binding each path (`IN (?, ?, ...)`) and getting a row object back for
   * each valid one cost up to three times as much; a count, a join or NOT
   * EXISTS instead of NOT IN cost the same.
   */
  missing: StatementSync;
  users: number;
  /** Paths looked up, which size the page cache (pageCacheKiB), and the cache's size now. */
  lookups: number;
  cacheKiB: number;
}

const connections = new Map<string, Connection>();

export class StoreValidity {
  readonly #file: string;
  /** Undefined until connect(); null once closed. */
  #connection: Connection | null | undefined;
  /** The database could not be read after all: every path counts as missing, so sweeps write. */
  #unreadable = false;

  private constructor(file: string) {
    this.#file = file;
  }

  /**
   * The local store's database, or undefined when the run uses another
   * store or its file cannot be read (no Nix state here, permissions).
   * Nothing is read yet: see connect().
   */
  static open(choice: StoreChoice, env: NodeJS.ProcessEnv = process.env): StoreValidity | undefined {
    if (choice.evalStore !== undefined || choice.nixOptions.some(([key]) => key === 'store' || key === 'eval-store')) return undefined;
    if (!LOCAL_STORES.has(env['NIX_REMOTE'] ?? '')) return undefined;
    const file = join(env['NIX_STATE_DIR'] ?? '/nix/var/nix', 'db', 'db.sqlite');
    if (!connections.has(file)) {
      try {
        accessSync(file, constants.R_OK);
      } catch {
        return undefined;
      }
    }
    return new StoreValidity(file);
  }

  /**
   * Opens the connection now, where its cost overlaps something else (a
   * sweep's start); otherwise the first lookup opens it. Nix's database is
   * in WAL mode, and the first connection to it rebuilds the index of the
   * write-ahead log by reading the log: 44 ms here for a log of 164 MB,
   * which used to be spent before the first sweep was spawned.
   */
  connect(): void {
    if (this.#connection !== undefined || this.#unreadable) return;
    let connection = connections.get(this.#file);
    if (!connection) {
      let db: DatabaseSync | undefined;
      try {
        db = new DatabaseSync(this.#file, { readOnly: true });
        const cacheKiB = pageCacheKiB(0);
        db.exec(`PRAGMA cache_size = -${cacheKiB}`);
        // Preparing the query reads the schema: a file that is not the store's database fails here.
        const missing = db.prepare('SELECT value FROM json_each(?) WHERE value NOT IN (SELECT path FROM ValidPaths)');
        connection = { db, missing, users: 0, lookups: 0, cacheKiB };
        connections.set(this.#file, connection);
      } catch {
        db?.close();
        this.#unreadable = true;
        return;
      }
    }
    connection.users++;
    this.#connection = connection;
  }

  /** Those of `paths` the store does not hold as valid. */
  invalid(paths: readonly string[]): Set<string> {
    if (this.#connection === null) throw new Error('the store database is closed');
    if (paths.length === 0) return new Set();
    this.connect();
    const connection = this.#connection;
    if (!connection) return new Set(paths);
    const invalid = new Set(connection.missing.all(JSON.stringify(paths)).map((row) => row['value'] as string));
    connection.lookups += paths.length;
    const cacheKiB = pageCacheKiB(connection.lookups);
    if (cacheKiB !== connection.cacheKiB) {
      connection.db.exec(`PRAGMA cache_size = -${cacheKiB}`);
      connection.cacheKiB = cacheKiB;
    }
    return invalid;
  }

  /** Done with it; the connection closes with its last user. */
  close(): void {
    const connection = this.#connection;
    this.#connection = null;
    if (!connection) return;
    if (--connection.users > 0) return;
    connections.delete(this.#file);
    connection.db.close();
  }
}
