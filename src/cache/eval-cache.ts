/**
 * The persistent evaluation cache: the events of complete walks of hermetic
 * inputs (flakes in pure mode), in SQLite (node:sqlite, built into Node: no
 * native build), keyed by everything the result depends on (see cacheKey).
 *
 * An entry is written in one transaction once a walk is complete, so an
 * interrupted run leaves the previous entry or none, never half of one.
 * WAL mode and a busy timeout let several evix processes and the daemon use
 * one cache at once; the last complete walk of a key wins.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { canonicalConfig } from '../canonical-config.js';
import { canonicalJson } from '../canonical-json.js';
import type { EvalConfig } from '../config.js';
import type { EvalEvent } from '../events.js';

/**
 * Raised whenever what is stored, or how it is keyed, changes meaning.
 * 2: keyed by the key's text instead of its SHA-256.
 */
export const CACHE_FORMAT = 2;

export interface CacheIdentity {
  /** The locked flake, as `nix flake metadata` reports it (narHash or rev included). */
  locked: unknown;
  /** Its whole lock graph, overrides applied. */
  locks: unknown;
  nixVersion: string;
  system: string;
}

/**
 * The key: the locked input and lock, the whole evaluation config (its input
 * in one spelling, as the daemon's sessions are keyed; minus what does not
 * change results: where it runs, memory limits), Nix's version, the system
 * and the cache format, as canonical JSON. The text itself is
 * the key, stored once per walk: exact, and nothing to hash on a cache hit
 * (loading node:crypto for a SHA-256 was about 4 ms of an 85 ms hit).
 */
export function cacheKey(config: EvalConfig, identity: CacheIdentity): string {
  const { workdir: _workdir, maxMemoryMiB: _memory, ...evaluation } = canonicalConfig(config);
  return canonicalJson({ format: CACHE_FORMAT, evaluation, identity });
}

export class EvalCache {
  readonly #db: DatabaseSync;

  constructor(directory: string) {
    mkdirSync(directory, { recursive: true, mode: 0o700 });
    this.#db = new DatabaseSync(join(directory, `eval-cache-v${CACHE_FORMAT}.sqlite`));
    // The timeout first: switching to WAL and creating the tables take locks
    // that another process opening the cache at the same moment may hold.
    this.#db.exec('PRAGMA busy_timeout = 10000');
    this.#db.exec(`
      PRAGMA journal_mode = WAL;
      CREATE TABLE IF NOT EXISTS walks (id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, written_at INTEGER NOT NULL);
      CREATE TABLE IF NOT EXISTS events (walk INTEGER NOT NULL, seq INTEGER NOT NULL, json TEXT NOT NULL, PRIMARY KEY (walk, seq));
    `);
  }

  /** The events of the stored walk for `key`, in their order, or undefined. */
  lookup(key: string): EvalEvent[] | undefined {
    const walk = this.#db.prepare('SELECT id FROM walks WHERE key = ?').get(key) as { id: number } | undefined;
    if (!walk) return undefined;
    const rows = this.#db.prepare('SELECT json FROM events WHERE walk = ? ORDER BY seq').all(walk.id) as Array<{ json: string }>;
    return rows.map((r) => JSON.parse(r.json) as EvalEvent);
  }

  /** Replaces the walk stored for `key`, all or nothing. */
  save(key: string, events: readonly EvalEvent[]): void {
    const insert = this.#db.prepare('INSERT INTO events (walk, seq, json) VALUES (?, ?, ?)');
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const old = this.#db.prepare('SELECT id FROM walks WHERE key = ?').get(key) as { id: number } | undefined;
      if (old) {
        this.#db.prepare('DELETE FROM events WHERE walk = ?').run(old.id);
        this.#db.prepare('DELETE FROM walks WHERE id = ?').run(old.id);
      }
      const walk = this.#db.prepare('INSERT INTO walks (key, written_at) VALUES (?, ?)').run(key, Date.now()).lastInsertRowid;
      events.forEach((event, seq) => insert.run(walk, seq, JSON.stringify(event)));
      this.#db.exec('COMMIT');
    } catch (error) {
      this.#db.exec('ROLLBACK');
      throw error;
    }
  }

  close(): void {
    this.#db.close();
  }
}
