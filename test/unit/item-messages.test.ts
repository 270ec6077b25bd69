/**
 * The direct reader and writer of the per-item messages against capnp-es,
 * which reads whatever the fast path declines: the field offsets they use are
 * those of the generated code, and they give the same results on every
 * sample, on frames moved into a second segment (outside the fast path), and
 * on thousands of corrupted frames (the fast path either agrees with capnp-es
 * or declines; decoding never fails with anything but ProtocolError).
 */
import * as capnp from 'capnp-es';
import { expect, test } from 'vitest';
import { ProtocolError, decodeClient, decodeServer, encodeClient, encodeServer } from '../../src/protocol/codec.js';
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
    const layout: { size: { pointerWords: number }; pointers?: Record<string, number>; uint64?: Record<string, number>; uint16?: Record<string, number>; bits?: Record<string, number> } = LAYOUT[name];
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
  for (const m of WORKS) expect(readWork(encodeClient(m))).toEqual(m.kind === 'work' ? { id: m.id, attrPath: m.attrPath } : undefined);
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

test('on corrupted frames the fast path agrees with capnp-es or declines, and decoding fails only with ProtocolError', () => {
  const next = random(7);
  let accepted = 0;
  let declined = 0;
  for (let round = 0; round < 3000; round++) {
    const original = encodeServer(ITEM_ANSWERS[round % ITEM_ANSWERS.length]!);
    const frame = Buffer.from(original);
    // Corrupt a few bytes of the segment (the header is the framing's business).
    for (let flips = 1 + Math.floor(next() * 3); flips > 0; flips--) frame[8 + Math.floor(next() * (frame.length - 8))] = Math.floor(next() * 256);
    let fast: ReturnType<typeof readItemAnswer> | ProtocolError;
    try {
      fast = readItemAnswer(frame);
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      fast = error as ProtocolError;
    }
    let reference: unknown;
    try {
      reference = decodeServer(inSecondSegment(frame));
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
      reference = error;
    }
    if (fast === undefined || fast instanceof ProtocolError) declined++;
    else {
      accepted++;
      expect(fast).toEqual(reference);
    }
    try {
      decodeServer(frame);
    } catch (error) {
      expect(error).toBeInstanceOf(ProtocolError);
    }
  }
  // Both branches were exercised: the property is not vacuous.
  expect(accepted).toBeGreaterThan(100);
  expect(declined).toBeGreaterThan(100);
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

  /** Root, ServerMessage.event, WorkEvent and an Event of kind `which` (words 0 to 9; its union pointer is word 8). */
  event(which: number): void {
    this.struct(0, 1, 2, 1);
    this.bytes.writeUInt16LE(2, this.at(1));
    this.struct(3, 4, 1, 1);
    this.struct(5, 6, 1, 3);
    this.bytes.writeUInt16LE(which, this.at(6));
  }
}

test('one text aliased by many pointers is refused, by the fast path and by the capnp-es path', () => {
  // An attrset event whose 2000 children all point at one 4000-byte text:
  // 16 KiB of frame that would read as 8 MB of names.
  const count = 2000;
  const textWords = 500;
  const list = 10;
  const text = list + count;
  const frame = new CraftedFrame(text + textWords);
  frame.event(1);
  frame.list(8, list, 6, count);
  frame.bytes.fill('a', frame.at(text), frame.at(text) + textWords * 8 - 1);
  for (let i = 0; i < count; i++) frame.list(list + i, text, 2, textWords * 8);
  expect(() => readItemAnswer(frame.bytes)).toThrow(ProtocolError);
  expect(() => decodeServer(frame.bytes)).toThrow(/more than 8 times its size/);
  expect(() => decodeServer(inSecondSegment(frame.bytes))).toThrow(/more than 8 times its size/);
});

test('a struct pointer where a list belongs, announcing 22 thousand elements per word, is refused at once', () => {
  // Found by the corruption test: capnp-es read this frame as a list of
  // millions of elements for seconds. Word 17 is the Derivation's outputs
  // pointer (null for this sample); its last byte makes it a struct pointer
  // with 0x5800 pointer words.
  const sample = ITEM_ANSWERS.find((m) => m.kind === 'event' && m.id === 6)!;
  const frame = Buffer.from(encodeServer(sample));
  frame[8 + 17 * 8 + 7] = 0x58;
  expect(readItemAnswer(frame)).toBeUndefined();
  expect(() => decodeServer(frame)).toThrow(/more than 8 times its size/);
});
