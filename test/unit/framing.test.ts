import { expect, test } from 'vitest';
import { FrameDecoder, FramingError } from '../../src/protocol/framing.js';
import { SOURCE_PART_BYTES, decodeClient, decodeConfig, decodeServer, encodeClient, encodeConfig, encodeServer, type ServerMessage } from '../../src/protocol/codec.js';
import { ITEM_ANSWERS } from '../protocol-samples.js';

const chunk = (id: number) => [{ kind: 'path' as const, path: ['a', `b.${id}`, 'ü'] }];
const work = (id: number) => encodeClient({ kind: 'work', id, chunk: chunk(id), budget: 1 });

test('a frame split into single bytes comes out whole', () => {
  const decoder = new FrameDecoder();
  const bytes = work(7);
  const frames = [];
  for (const byte of bytes) frames.push(...decoder.push(Buffer.from([byte])));
  expect(frames).toHaveLength(1);
  expect(decodeClient(frames[0]!)).toEqual({ kind: 'work', id: 7, chunk: chunk(7), budget: 1 });
  expect(decoder.buffered).toBe(0);
});

test('coalesced frames come out one by one, a partial one waits', () => {
  const decoder = new FrameDecoder();
  const third = work(3);
  const all = Buffer.concat([work(1), work(2), third.subarray(0, 5)]);
  expect(decoder.push(all).map((f) => decodeClient(f))).toEqual([
    { kind: 'work', id: 1, chunk: chunk(1), budget: 1 },
    { kind: 'work', id: 2, chunk: chunk(2), budget: 1 },
  ]);
  expect(decoder.push(third.subarray(5)).map((f) => decodeClient(f))).toEqual([{ kind: 'work', id: 3, chunk: chunk(3), budget: 1 }]);
});

test('an oversized frame is refused from its header, before its body arrives', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 1024, maxSegments: 4 });
  const header = Buffer.alloc(8);
  header.writeUInt32LE(0, 0);
  header.writeUInt32LE(1_000_000, 4); // one segment of a million words
  expect(() => decoder.push(header)).toThrow(FramingError);
});

test('too many segments is refused', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 1 << 20, maxSegments: 4 });
  const header = Buffer.alloc(4);
  header.writeUInt32LE(1000, 0);
  expect(() => decoder.push(header)).toThrow(/segments/);
});

test('garbage is refused or yields a frame that does not decode', () => {
  const decoder = new FrameDecoder({ maxFrameBytes: 4096, maxSegments: 8 });
  expect(() => decoder.push(Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'))).toThrow(FramingError);
  const junk = Buffer.alloc(24, 0xff);
  junk.writeUInt32LE(0, 0);
  junk.writeUInt32LE(2, 4);
  const frames = new FrameDecoder().push(junk);
  expect(frames).toHaveLength(1);
  expect(() => decodeClient(frames[0]!)).toThrow(/malformed/);
});

test('a truncated stream never yields a frame', () => {
  const decoder = new FrameDecoder();
  const bytes = work(9);
  expect(decoder.push(bytes.subarray(0, bytes.length - 1))).toEqual([]);
  expect(decoder.buffered).toBe(bytes.length - 1);
});

test('every server message survives a round trip', () => {
  const messages: ServerMessage[] = [
    { kind: 'hello', protocolVersion: 1, nonce: new Uint8Array([1, 2, 3]) },
    { kind: 'ready', proof: new Uint8Array([9, 8]) },
    { kind: 'error', message: 'authentication failed' },
    { kind: 'pong', id: 12 },
    { kind: 'want', storePaths: ['/nix/store/00000000000000000000000000000000-source'] },
    { kind: 'want', storePaths: [] },
    ...ITEM_ANSWERS,
  ];
  for (const m of messages) expect(decodeServer(new FrameDecoder().push(encodeServer(m))[0]!)).toEqual(m);
});

test('the config survives a round trip', () => {
  const config = {
    input: { kind: 'flake' as const, lockedUrl: 'path:/x?narHash=sha256-abc', attrPath: ['hydraJobs'], lockJson: '{"a":1}' },
    autoArgs: [
      { name: 'a', kind: 'expr' as const, value: '1 + 1' },
      { name: 'b', kind: 'string' as const, value: 'text' },
    ],
    includePaths: ['nixpkgs=/x'],
    nixOptions: [['restrict-eval', 'true']] as Array<[string, string]>,
    impure: true,
    forceRecurse: false,
    meta: true,
    showInputDrvs: false,
    showTrace: true,
    maxMemoryMiB: 2048,
    select: 'root: root.hydraJobs',
    apply: 'drv: drv.version',
    sources: [{ storePath: '/nix/store/00000000000000000000000000000000-source', narHash: 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=', narSize: 2 ** 40 }],
  };
  expect(decodeConfig(encodeConfig(config))).toEqual(config);
  const file = { ...config, input: { kind: 'file' as const, path: '/jobs.nix' } };
  expect(decodeConfig(encodeConfig(file))).toEqual(file);
});

test('large messages decode within the traversal limit', () => {
  const attrs = Array.from({ length: 5000 }, (_, i) => `child-${i}`);
  const m: ServerMessage = { kind: 'event', id: 1, events: [{ attr: 'big', attrPath: ['big'], attrs }, ...attrs.map((name) => ({ skip: true as const, attrPath: ['big', name] }))] };
  expect(decodeServer(encodeServer(m))).toEqual(m);
});

test('a source part survives a round trip, and one over the bound is refused', () => {
  const part = { kind: 'source' as const, storePath: '/nix/store/00000000000000000000000000000000-source', data: new Uint8Array([0, 1, 2, 255]), last: true };
  expect(decodeClient(new FrameDecoder().push(encodeClient(part))[0]!)).toEqual(part);
  const over = encodeClient({ ...part, data: new Uint8Array(SOURCE_PART_BYTES + 1) });
  expect(() => decodeClient(new FrameDecoder({ maxFrameBytes: 4 << 20, maxSegments: 16 }).push(over)[0]!)).toThrow(/source part over/);
});
