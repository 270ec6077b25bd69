/**
 * Resident memory of a process, read from /proc/PID/statm (Linux). The file
 * stays open and is re-read in place: this runs after every item, and
 * opening and reading /proc through fs/promises each time cost more than
 * evaluating a small attribute.
 */
import { closeSync, openSync, readSync } from 'node:fs';

const PAGE_BYTES = 4096;

export class ResidentMemory {
  readonly #fd: number | undefined;
  readonly #buffer = Buffer.alloc(128);

  constructor(pid: number) {
    try {
      this.#fd = openSync(`/proc/${pid}/statm`, 'r');
    } catch {
      this.#fd = undefined;
    }
  }

  /** Resident MiB now, or undefined when the process is gone or /proc is not there. */
  mib(): number | undefined {
    if (this.#fd === undefined) return undefined;
    try {
      const n = readSync(this.#fd, this.#buffer, 0, this.#buffer.length, 0);
      const pages = Number(this.#buffer.toString('latin1', 0, n).split(' ')[1]);
      return Number.isFinite(pages) ? (pages * PAGE_BYTES) / (1024 * 1024) : undefined;
    } catch {
      return undefined;
    }
  }

  close(): void {
    if (this.#fd !== undefined) closeSync(this.#fd);
  }
}
