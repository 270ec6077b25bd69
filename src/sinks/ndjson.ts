/**
 * Events to a stream as newline-delimited JSON, one event per line. Lines
 * are gathered and written once per turn of the event loop (or every 64 KiB)
 * instead of one write per event: thousands of small writes cost more than
 * the evaluation of small attributes.
 *
 * ready() is the sink's back-pressure: while the stream has more buffered
 * than it wants (a pipe into a slow program), the run hands out no new work.
 */
import type { Writable } from 'node:stream';
import type { EvalEvent } from '../events.js';
import { evixLine, type LineFormat } from './formats.js';

const FLUSH_BYTES = 64 * 1024;

export class NdjsonSink {
  readonly #out: Writable;
  readonly #line: LineFormat;
  #pending = '';
  #scheduled = false;
  #drained: Promise<void> | undefined;
  #around: ((write: () => void) => void) | undefined;

  constructor(out: Writable, line: LineFormat = evixLine) {
    this.#out = out;
    this.#line = line;
  }

  readonly write = (event: EvalEvent): void => {
    const line = this.#line(event);
    if (line === undefined) return;
    this.#pending += `${JSON.stringify(line)}\n`;
    if (this.#pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  };

  /** Undefined while the stream takes more; otherwise settles once it has drained (or closed). */
  readonly ready = (): Promise<void> | undefined => {
    if (!this.#out.writableNeedDrain) return undefined;
    this.#drained ??= new Promise<void>((resolve) => {
      // A stream that closes or fails will not drain: nothing to wait for then.
      const settle = () => {
        this.#out.off('drain', settle).off('close', settle).off('error', settle);
        this.#drained = undefined;
        resolve();
      };
      this.#out.on('drain', settle).on('close', settle).on('error', settle);
    });
    return this.#drained;
  };

  /** Has every write to the stream made inside `around` (the progress line steps aside there, on a terminal both share). */
  writeThrough(around: (write: () => void) => void): void {
    this.#around = around;
  }

  /** Writes what is gathered now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending === '') return;
    const text = this.#pending;
    this.#pending = '';
    if (this.#around) this.#around(() => this.#out.write(text));
    else this.#out.write(text);
  }
}
