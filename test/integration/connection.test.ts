/** MessageConnection over a real loopback socket: when queued messages leave. */
import { once } from 'node:events';
import { createServer, connect, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, test } from 'vitest';
import { decodeServer, encodeServer, type ServerMessage } from '../../src/protocol/codec.js';
import { MessageConnection } from '../../src/protocol/connection.js';

const opened: Socket[] = [];
afterEach(() => opened.splice(0).forEach((s) => s.destroy()));

/** A sending connection and the statuses the other end has received, in order. */
async function pair(holdMs: number): Promise<{ sender: MessageConnection<ServerMessage, ServerMessage>; received: number[]; closed: Promise<void> }> {
  const server = createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const client = connect(port, '127.0.0.1');
  const [accepted] = (await once(server, 'connection')) as [Socket];
  server.close();
  opened.push(client, accepted);
  const codec = { decode: decodeServer, encode: encodeServer };
  const sender = new MessageConnection<ServerMessage, ServerMessage>(accepted, codec, undefined, { holdMs });
  const receiver = new MessageConnection<ServerMessage, ServerMessage>(client, codec);
  const received: number[] = [];
  receiver.onMessage((m) => received.push(m.kind === 'status' ? m.id : -1));
  const closed = new Promise<void>((resolve) => receiver.onClose(() => resolve()));
  return { sender, received, closed };
}

const status = (id: number): ServerMessage => ({ kind: 'status', id, restart: false });

test('held messages stay until flush, then leave in order', async () => {
  const { sender, received } = await pair(60_000);
  for (const id of [1, 2, 3]) sender.hold(status(id));
  expect(sender.held).toBe(3);
  await sleep(200);
  expect(received).toEqual([]);
  sender.flush();
  expect(sender.held).toBe(0);
  await expect.poll(() => received).toEqual([1, 2, 3]);
});

test('held messages leave by themselves after the hold time', async () => {
  const { sender, received } = await pair(50);
  sender.hold(status(7));
  await expect.poll(() => received, { timeout: 2000 }).toEqual([7]);
});

test('a sent message takes the held ones with it; ending writes them first', async () => {
  const { sender, received, closed } = await pair(60_000);
  sender.hold(status(1));
  sender.send(status(2));
  await expect.poll(() => received).toEqual([1, 2]);
  sender.hold(status(3));
  sender.end(status(4));
  await closed;
  expect(received).toEqual([1, 2, 3, 4]);
});
