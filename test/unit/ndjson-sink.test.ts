/** NdjsonSink's back-pressure against a real slow Writable. */
import { Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import type { EvalEvent } from '../../src/events.js';
import { NdjsonSink } from '../../src/sinks/ndjson.js';

const event = (i: number): EvalEvent => ({ attr: `a${i}`, attrPath: [`a${i}`], attrs: [] });

/** A consumer taking one write every 10 ms, wanting at most 1 KiB buffered. */
function slowConsumer() {
  const received: string[] = [];
  const out = new Writable({
    highWaterMark: 1024,
    write(chunk: Buffer, _encoding, done) {
      received.push(chunk.toString());
      setTimeout(done, 10);
    },
  });
  return { out, received };
}

test('ready() is undefined while the stream takes more, and waits for its drain once it is full', async () => {
  const { out, received } = slowConsumer();
  const sink = new NdjsonSink(out);
  expect(sink.ready()).toBeUndefined();
  for (let i = 0; i < 200; i++) sink.write(event(i));
  sink.flush();
  const waiting = sink.ready();
  expect(waiting).toBeInstanceOf(Promise);
  expect(sink.ready()).toBe(waiting); // one wait, however often asked
  let drained = false;
  void waiting!.then(() => (drained = true));
  await sleep(1);
  expect(drained).toBe(false);
  await waiting;
  expect(out.writableNeedDrain).toBe(false);
  expect(sink.ready()).toBeUndefined();
  expect(received.join('').trim().split('\n')).toHaveLength(200);
});

test('a stream that is destroyed while full does not keep the run waiting', async () => {
  const { out } = slowConsumer();
  const sink = new NdjsonSink(out);
  for (let i = 0; i < 200; i++) sink.write(event(i));
  sink.flush();
  const waiting = sink.ready();
  expect(waiting).toBeInstanceOf(Promise);
  out.destroy();
  await waiting;
  expect(sink.ready()).toBeUndefined();
  expect(out.listenerCount('drain')).toBe(0);
});
