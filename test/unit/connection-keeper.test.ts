/** ConnectionKeeper over real loopback sockets to a server that only accepts: reconnection and close(). */
import { once } from 'node:events';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterEach, expect, test } from 'vitest';
import { silentLogger } from '../../src/log.js';
import { decodeServer, encodeClient } from '../../src/protocol/codec.js';
import { MessageConnection } from '../../src/protocol/connection.js';
import type { ClientConnection } from '../../src/remote/client-handshake.js';
import { ConnectionKeeper } from '../../src/remote/connection-keeper.js';
import { DEFAULT_REMOTE_TIMEOUTS } from '../../src/remote/options.js';

const accepted: Socket[] = [];
const servers: Server[] = [];
afterEach(() => {
  for (const socket of accepted.splice(0)) socket.destroy();
  for (const server of servers.splice(0)) server.close();
});

async function keeperOnLoopback() {
  const server = createServer((socket) => accepted.push(socket));
  servers.push(server);
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const { port } = server.address() as { port: number };
  const stats = { connects: 0, losses: 0 };
  const keeper = new ConnectionKeeper({
    connect: async () => {
      stats.connects++;
      const socket = connect(port, '127.0.0.1');
      await once(socket, 'connect');
      return new MessageConnection(socket, { decode: decodeServer, encode: encodeClient }) as ClientConnection;
    },
    onMessage: () => {},
    onLost: () => stats.losses++,
    awaitingAnswers: () => false,
    timeouts: { ...DEFAULT_REMOTE_TIMEOUTS, reconnectAttempts: 3 },
    log: silentLogger,
  });
  await keeper.open();
  return { keeper, stats };
}

async function dropTheConnection(stats: { losses: number }): Promise<void> {
  const before = stats.losses;
  accepted.at(-1)!.destroy();
  while (stats.losses === before) await sleep(5);
}

test('after a loss, a new connection is made after a backoff', async () => {
  const { keeper, stats } = await keeperOnLoopback();
  await dropTheConnection(stats);
  expect(keeper.connection).toBeUndefined();
  expect(await keeper.reconnect()).toBe(true);
  expect(stats.connects).toBe(2);
  expect(keeper.connection).toBeDefined();
  await keeper.close();
});

test('close() during the backoff ends the reconnection: no connection is made after it', async () => {
  const { keeper, stats } = await keeperOnLoopback();
  await dropTheConnection(stats);
  const reconnecting = keeper.reconnect();
  await sleep(50);
  await keeper.close();
  expect(await reconnecting).toBe(false);
  await sleep(500); // past the first backoff (250 ms)
  expect(stats.connects).toBe(1);
  expect(accepted).toHaveLength(1);
});
