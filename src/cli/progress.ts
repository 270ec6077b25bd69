/**
 * A one-line progress display on stderr, for terminals only: done, queued,
 * errors, rate and busy workers, redrawn ten times a second and erased at
 * the end, so what stays on the terminal is the output and the logs. Output
 * to the same terminal goes through aside(), or it would start where the
 * line's text ends.
 */
import type { RunSnapshot } from '../master/run.js';

export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #started = Date.now();
  #snapshot: (() => RunSnapshot) | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** Whether the line is on the terminal now (the cursor at its end). */
  #drawn = false;

  constructor(stream: NodeJS.WriteStream) {
    this.#stream = stream;
  }

  /** Whether a display makes sense: a terminal, and not asked to be quiet. */
  static wanted(stream: NodeJS.WriteStream, quiet: boolean): boolean {
    return stream.isTTY === true && !quiet;
  }

  watch(snapshot: () => RunSnapshot): void {
    this.#snapshot = snapshot;
    this.#timer = setInterval(() => this.#draw(), 100);
    this.#timer.unref();
  }

  /** Erases the line; safe to call more than once. */
  stop(): void {
    clearInterval(this.#timer);
    this.#erase();
    this.#snapshot = undefined;
  }

  /**
   * Runs `write`, a write to another stream on the same terminal, with the
   * line erased before it and drawn again after. Terminal writes are
   * synchronous (on Linux), so the three reach the terminal in this order.
   */
  readonly aside = (write: () => void): void => {
    if (!this.#drawn) return write();
    this.#erase();
    write();
    this.#draw();
  };

  #erase(): void {
    if (!this.#drawn) return;
    this.#stream.write('\r\x1b[K');
    this.#drawn = false;
  }

  #draw(): void {
    const s = this.#snapshot!();
    const seconds = (Date.now() - this.#started) / 1000;
    const rate = seconds > 0 ? Math.round(s.completed / seconds) : 0;
    const line = `evix: ${s.completed} done · ${s.queued} queued · ${s.errors} errors · ${rate}/s · ${s.busyWorkers}/${s.workers} workers busy`;
    this.#stream.write(`\r\x1b[K${line.slice(0, (this.#stream.columns || 80) - 1)}`);
    this.#drawn = true;
  }
}
