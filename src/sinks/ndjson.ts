/**
 * Events to a stream as newline-delimited JSON, one event per line. Lines
 * are gathered and written once per turn of the event loop (or every 64 KiB)
 * instead of one write per event: thousands of small writes cost more than
 * the evaluation of small attributes.
 */
import type { Writable } from 'node:stream';
import type { EvalEvent } from '../events.js';
import { formatEvent, type OutputFormat } from './formats.js';

const FLUSH_BYTES = 64 * 1024;

export class NdjsonSink {
  readonly #out: Writable;
  readonly #format: OutputFormat;
  #pending = '';
  #scheduled = false;

  constructor(out: Writable, format: OutputFormat = 'evix') {
    this.#out = out;
    this.#format = format;
  }

  readonly write = (event: EvalEvent): void => {
    const line = formatEvent(event, this.#format);
    if (line === undefined) return;
    this.#pending += `${JSON.stringify(line)}\n`;
    if (this.#pending.length >= FLUSH_BYTES) this.flush();
    else if (!this.#scheduled) {
      this.#scheduled = true;
      setImmediate(() => this.flush());
    }
  };

  /** Writes what is gathered now. */
  flush(): void {
    this.#scheduled = false;
    if (this.#pending === '') return;
    this.#out.write(this.#pending);
    this.#pending = '';
  }
}
