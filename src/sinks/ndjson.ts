/** Events to a stream as newline-delimited JSON, one event per line. */
import type { Writable } from 'node:stream';
import type { EvalEvent } from '../events.js';

export function ndjsonSink(out: Writable): (event: EvalEvent) => void {
  return (event) => {
    out.write(`${JSON.stringify(event)}\n`);
  };
}
