/**
 * The direct reader and writer of the per-chunk messages against capnp-es,
 * which reads whatever the fast path declines: the field offsets they use are
 * those of the generated code, and they give the same results on every
 * sample, on frames moved into a second segment (outside the fast path), and
 * on thousands of corrupted frames (the fast path either agrees with capnp-es
 * or declines; decoding never fails with anything but ProtocolError).
 */
import * as capnp from 'capnp-es';
import { expect, test } from 'vitest';
import { MAX_CHUNK_ATTRIBUTES, ProtocolError, decodeClient, decodeServer, encodeClient, encodeServer, type ClientMessage } from '../../src/protocol/codec.js';
import * as schema from '../../src/protocol/generated/evix.js';
import { LAYOUT, readItemAnswer, readWork } from '../../src/protocol/item-messages.js';
import { ITEM_ANSWERS, WORKS } from '../protocol-samples.js';
import { random } from '../random.js';

/**
 * The same message as two segments: the first holds only a far pointer to
 * the second, which is the original segment (its word 0, the root pointer,
 * becomes the landing pad). Valid Cap'n Proto, never written by us.
 */
function inSecondSegment(frame: Buffer): Buffer {
  const segment = frame.subarray(8);
  const header = Buffer.alloc(16);
  header.writeUInt32LE(1, 0); // two segments
  header.writeUInt32LE(1, 4); // the first: one word
  header.writeUInt32LE(segment.length / 8, 8);
  const far = Buffer.alloc(8);
  far.writeUInt32LE(2, 0); // far pointer, landing pad at word 0...
  far.writeUInt32LE(1, 4); // ...of segment 1
  return Buffer.concat([header, far, segment]);
}

/** A generated struct, its fields looked up by name. */
type GeneratedStruct = capnp.Struct & Record<string, unknown>;

/** A fresh struct of the generated class `name`, the root of a new message. */
const fresh = (name: keyof typeof LAYOUT): GeneratedStruct => new capnp.Message().initRoot(schema[name] as capnp.StructCtor<capnp.Struct>) as GeneratedStruct;

/** Sets pointer field `field` through the generated code: a list or struct is initialised (`_initX`), a text set. */
function setPointerField(s: GeneratedStruct, field: string): void {
  const init = s[`_init${field[0]!.toUpperCase()}${field.slice(1)}`];
  if (typeof init === 'function') (init as (length: number) => unknown).call(s, 1);
  else s[field] = 'x';
}

test('every offset of the layout is where the generated code keeps that field', () => {
  const { utils } = capnp;
  for (const name of Object.keys(LAYOUT) as (keyof typeof LAYOUT)[]) {
    const layout: {
      size: { pointerWords: number };
      pointers?: Record<string, number>;
      uint64?: Record<string, number>;
      uint32?: Record<string, number>;
      uint16?: Record<string, number>;
      bits?: Record<string, number>;
    } = LAYOUT[name];
    for (const [field, slot] of Object.entries(layout.pointers ?? {})) {
      const s = fresh(name);
      setPointerField(s, field);
      const set = Array.from({ length: layout.size.pointerWords }, (_, i) => i).filter((i) => !utils.isNull(utils.getPointer(i, s)));
      expect(set, `${name}.${field}: the pointers it sets`).toEqual([slot]);
      // A union member also sets the discriminant.
      const which = layout.uint16?.which;
      if (which !== undefined) expect(utils.getUint16(which, s), `${name}.which after setting ${field}`).toBe((s.which as () => number).call(s));
    }
    for (const [field, offset] of Object.entries(layout.uint64 ?? {})) {
      const s = fresh(name);
      s[field] = 0x0102_0304_0506_0708n;
      expect(utils.getUint64(offset, s), `${name}.${field}`).toBe(0x0102_0304_0506_0708n);
    }
    for (const [field, offset] of Object.entries(layout.uint32 ?? {})) {
      const s = fresh(name);
      s[field] = 0x0102_0304;
      expect(utils.getUint32(offset, s), `${name}.${field}`).toBe(0x0102_0304);
    }
    for (const [field, offset] of Object.entries(layout.uint16 ?? {}).filter(([field]) => field !== 'which')) {
      const s = fresh(name);
      s[field] = 1;
      expect(utils.getUint16(offset, s), `${name}.${field}`).toBe(1);
    }
    for (const [field, bit] of Object.entries(layout.bits ?? {})) {
      const s = fresh(name);
      s[field] = true;
      expect(utils.getBit(bit, s), `${name}.${field}`).toBe(true);
    }
  }
});

test('the fast path reads back everything it writes', () => {
  for (const m of ITEM_ANSWERS) expect(readItemAnswer(encodeServer(m))).toEqual(m);
  for (const m of WORKS) {
    const { kind: _kind, ...work } = m as Extract<ClientMessage, { kind: 'work' }>;
    expect(readWork(encodeClient(m))).toEqual(work);
  }
});

test('capnp-es reads what the fast path writes the same way (the layout agrees with the generated code)', () => {
  for (const m of ITEM_ANSWERS) {
    const moved = inSecondSegment(encodeServer(m));
    expect(readItemAnswer(moved)).toBeUndefined();
    expect(decodeServer(moved)).toEqual(m);
  }
  for (const m of WORKS) {
    const moved = inSecondSegment(encodeClient(m));
    expect(readWork(moved)).toBeUndefined();
    expect(decodeClient(moved)).toEqual(m);
  }
});

/** What decoding gives: the message, or the ProtocolError it fails with (anything else fails the test). */
function outcome<T>(decode: () => T): T | ProtocolError {
  try {
    return decode();
  } catch (error) {
    expect(error).toBeInstanceOf(ProtocolError);
    return error as ProtocolError;
  }
}

/**
 * Corrupts a few bytes of each sample's segment (the header is the
 * framing's business) `rounds` times: the fast path either declines or
 * decodes as capnp-es does, and decoding fails only with ProtocolError.
 */
function corrupting<M>(samples: readonly M[], encode: (m: M) => Buffer, fast: (frame: Buffer) => unknown, decode: (frame: Uint8Array) => M, seed: number, rounds: number): void {
  const next = random(seed);
  let accepted = 0;
  let declined = 0;
  for (let round = 0; round < rounds; round++) {
    const frame = Buffer.from(encode(samples[round % samples.length]!));
    for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) frame[8 + Math.floor(next() * (frame.length - 8))] = Math.floor(next() * 256);
    const read = outcome(() => fast(frame));
    const decoded = outcome(() => decode(frame));
    if (read === undefined || read instanceof ProtocolError) declined++;
    else {
      accepted++;
      expect(decoded).toEqual(outcome(() => decode(inSecondSegment(frame))));
    }
  }
  // Both branches were exercised: the property is not vacuous.
  expect(accepted).toBeGreaterThan(rounds / 30);
  expect(declined).toBeGreaterThan(rounds / 30);
}

test('on corrupted answers the fast path agrees with capnp-es or declines, and decoding fails only with ProtocolError', () => {
  corrupting(ITEM_ANSWERS, encodeServer, readItemAnswer, decodeServer, 7, 3000);
});

test('on corrupted work the fast path agrees with capnp-es or declines, and decoding fails only with ProtocolError', () => {
  corrupting(WORKS, encodeClient, readWork, decodeClient, 11, 3000);
});

test('a Work past MAX_CHUNK_ATTRIBUTES attributes, units or budget is refused on both paths; one at it is read', () => {
  const names = (n: number) => Array.from({ length: n }, (_, i) => `n${i}`);
  const work = (chunk: Extract<ClientMessage, { kind: 'work' }>['chunk'], budget = 1): ClientMessage => ({ kind: 'work', id: 1, chunk, budget });
  const atBound = [
    work([{ kind: 'siblings', parent: ['p'], from: 0, names: names(MAX_CHUNK_ATTRIBUTES - 1) }, { kind: 'path', path: ['q'] }], MAX_CHUNK_ATTRIBUTES),
    work(names(MAX_CHUNK_ATTRIBUTES).map((n) => ({ kind: 'path', path: [n] }))),
  ];
  const pastBound = [
    work([{ kind: 'siblings', parent: ['p'], from: 0, names: names(MAX_CHUNK_ATTRIBUTES) }, { kind: 'path', path: ['q'] }]),
    // Units that name nothing still cost reading.
    work(Array.from({ length: MAX_CHUNK_ATTRIBUTES + 1 }, () => ({ kind: 'siblings', parent: [], from: 0, names: [] }))),
    work([{ kind: 'path', path: ['q'] }], MAX_CHUNK_ATTRIBUTES + 1),
  ];
  for (const m of atBound) {
    expect(decodeClient(encodeClient(m))).toEqual(m);
    expect(decodeClient(inSecondSegment(encodeClient(m)))).toEqual(m);
  }
  for (const m of pastBound) {
    expect(() => decodeClient(encodeClient(m))).toThrow(new ProtocolError(`a work message over ${MAX_CHUNK_ATTRIBUTES} attributes`));
    expect(() => decodeClient(inSecondSegment(encodeClient(m)))).toThrow(ProtocolError);
  }
});

test('a part outside its parts (none, or past the last) is refused on both paths', () => {
  for (const [part, parts] of [[0, 0], [3, 3], [4, 2]]) {
    const m: ClientMessage = { kind: 'work', id: 1, chunk: [{ kind: 'part', path: ['p'], part: part!, parts: parts! }], budget: 1 };
    expect(() => decodeClient(encodeClient(m))).toThrow(new ProtocolError('a work message with a part outside its parts'));
    expect(() => decodeClient(inSecondSegment(encodeClient(m)))).toThrow(ProtocolError);
  }
});

/** A frame written word by word, for messages our encoder would never produce. */
class CraftedFrame {
  readonly bytes: Buffer;

  constructor(words: number) {
    this.bytes = Buffer.alloc(8 + words * 8);
    this.bytes.writeUInt32LE(words, 4);
  }

  at(word: number): number {
    return 8 + word * 8;
  }

  struct(at: number, target: number, data: number, pointers: number): void {
    this.bytes.writeInt32LE((target - at - 1) << 2, this.at(at));
    this.bytes.writeUInt16LE(data, this.at(at) + 4);
    this.bytes.writeUInt16LE(pointers, this.at(at) + 6);
  }

  list(at: number, target: number, size: number, n: number): void {
    this.bytes.writeInt32LE(((target - at - 1) << 2) | 1, this.at(at));
    this.bytes.writeUInt32LE(size | (n << 3), this.at(at) + 4);
  }

  /** Root, ServerMessage.event, WorkEvent and a list of one Event of kind `which` (words 0 to 10; the Event's union pointer is word 9). */
  event(which: number): void {
    this.struct(0, 1, 2, 1);
    this.bytes.writeUInt16LE(2, this.at(1));
    this.struct(3, 4, 1, 1);
    this.list(5, 6, 7, 4);
    // The list's tag word: a struct pointer whose offset field is the element count (1).
    this.struct(6, 8, 1, 3);
    this.bytes.writeUInt16LE(which, this.at(7));
  }
}

test('one text aliased by many pointers is refused, by the fast path and by the capnp-es path', () => {
  // An attrset event whose 2000 children all point at one 4000-byte text:
  // 16 KiB of frame that would read as 8 MB of names.
  const count = 2000;
  const textWords = 500;
  const list = 11;
  const text = list + count;
  const frame = new CraftedFrame(text + textWords);
  frame.event(1);
  frame.list(9, list, 6, count);
  frame.bytes.fill('a', frame.at(text), frame.at(text) + textWords * 8 - 1);
  for (let i = 0; i < count; i++) frame.list(list + i, text, 2, textWords * 8);
  expect(() => readItemAnswer(frame.bytes)).toThrow(ProtocolError);
  expect(() => decodeServer(frame.bytes)).toThrow(/more than 8 times its size/);
  expect(() => decodeServer(inSecondSegment(frame.bytes))).toThrow(/more than 8 times its size/);
});

test('a struct pointer where a list belongs, announcing 22 thousand elements per word, is refused at once', () => {
  // Found by the corruption test: capnp-es read this frame as a list of
  // millions of elements for seconds. Word 18 is the Derivation's outputs
  // pointer (null for this sample); its last byte makes it a struct pointer
  // with 0x5800 pointer words.
  const sample = ITEM_ANSWERS.find((m) => m.kind === 'event' && m.id === 6)!;
  const frame = Buffer.from(encodeServer(sample));
  frame[8 + 18 * 8 + 7] = 0x58;
  expect(readItemAnswer(frame)).toBeUndefined();
  expect(() => decodeServer(frame)).toThrow(/more than 8 times its size/);
});
