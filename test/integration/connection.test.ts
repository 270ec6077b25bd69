/** MessageConnection over a real loopback socket: when sent messages leave. */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { afterEach, expect, test } from 'vitest';
import { decodeServer, encodeServer, type ServerMessage } from '../../src/protocol/codec.js';
import { MessageConnection } from '../../src/protocol/connection.js';

const opened: Socket[] = [];
afterEach(() => opened.splice(0).forEach((s) => s.destroy()));

/** A sending connection, the statuses the other end has received in order, and how many writes the sender's socket made. */
async function pair(): Promise<{ sender: MessageConnection<ServerMessage, ServerMessage>; received: number[]; writes: () => number; closed: Promise<void> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [Socket];
  server.close();
  opened.push(client, accepted);
  // Every write to the kernel goes through one of these two methods of the Writable.
  let writes = 0;
  const socket = accepted as unknown as Record<'_write' | '_writev', (...args: unknown[]) => void>;
  for (const method of ['_write', '_writev'] as const) {
    const original = socket[method].bind(socket);
    socket[method] = (...args) => {
      writes++;
      original(...args);
    };
  }
  const codec = { decode: decodeServer, encode: encodeServer };
  const sender = new MessageConnection<ServerMessage, ServerMessage>(accepted, codec);
  const receiver = new MessageConnection<ServerMessage, ServerMessage>(client, codec);
  const received: number[] = [];
  receiver.onMessage((m) => received.push(m.kind === 'status' ? m.id : -1));
  const closed = new Promise<void>((resolve) => receiver.onClose(() => resolve()));
  return { sender, received, writes: () => writes, closed };
}

const status = (id: number): ServerMessage => ({ kind: 'status', id, restart: false });

test('messages sent in one tick leave in one write, in order', async () => {
  const { sender, received, writes } = await pair();
  for (const id of [1, 2, 3]) sender.send(status(id));
  await expect.poll(() => received).toEqual([1, 2, 3]);
  expect(writes()).toBe(1);
});

test('ending writes what was sent before it, then the last message', async () => {
  const { sender, received, closed } = await pair();
  sender.send(status(1));
  sender.end(status(2));
  await closed;
  expect(received).toEqual([1, 2]);
});
