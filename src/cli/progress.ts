/**
 * A one-line progress display on stderr, for terminals only: done, queued,
 * errors, rate and busy workers, redrawn ten times a second and erased at
 * the end, so what stays on the terminal is the output and the logs.
 */
import type { RunSnapshot } from '../master/run.js';

export class Progress {
  readonly #stream: NodeJS.WriteStream;
  readonly #started = Date.now();
  #snapshot: (() => RunSnapshot) | undefined;
  #timer: NodeJS.Timeout | undefined;

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
    if (this.#snapshot) this.#stream.write('\r\x1b[K');
    this.#snapshot = undefined;
  }

  #draw(): void {
    const s = this.#snapshot!();
    const seconds = (Date.now() - this.#started) / 1000;
    const rate = seconds > 0 ? Math.round(s.completed / seconds) : 0;
    const line = `evix: ${s.completed} done · ${s.queued} queued · ${s.errors} errors · ${rate}/s · ${s.busyWorkers}/${s.workers} workers busy`;
    this.#stream.write(`\r\x1b[K${line.slice(0, (this.#stream.columns || 80) - 1)}`);
  }
}
