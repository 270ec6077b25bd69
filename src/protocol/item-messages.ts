/**
 * The three messages every item sends (Work, WorkEvent, WorkStatus of
 * schema/evix.capnp), written and read directly as Cap'n Proto bytes.
 *
 * Why not capnp-es here: it builds an arena and a tree of pointer objects per
 * message and its lists are Proxies; that cost 20 to 40 µs a message, which
 * made a remote worker on loopback about 1.8x slower than a local one on
 * small attributes. These functions cost a few µs. capnp-es still handles
 * every other message, and every frame these functions do not take (see
 * below), so the wire stays plain Cap'n Proto of the one schema.
 *
 * Writing: one segment, fields in the layout the schema compiler assigned
 * (the offsets below; test/unit/item-messages.test.ts checks them against the
 * reference `capnp` tool). Reading takes the canonical subset: one segment,
 * no far pointers, structs and lists of the kinds the schema declares. For
 * anything else it returns undefined and the caller decodes with capnp-es,
 * which reads any valid message and refuses invalid ones. Every read here is
 * bounds-checked, and the text read is charged to a ReadBudget, so a crafted
 * frame can neither make us read out of bounds nor amplify one text into
 * gigabytes.
 */
import type { DerivationEvent, WorkResult } from '../events.js';
import { ProtocolError, ReadBudget } from './read-budget.js';

// Union discriminants and layouts, from src/protocol/generated/evix.ts.
const SERVER_EVENT = 2;
const SERVER_STATUS = 3;
const CLIENT_WORK = 1;
const EVENT_DERIVATION = 0;
const EVENT_ATTRSET = 1;
const EVENT_ERROR = 2;
const EVENT_SKIP = 3;
const STATE_RESTART = 1;
/** Data words and pointer words of each struct. */
const LAYOUT = {
  root: [2, 1], // ServerMessage and ClientMessage: which @0 (u16), ping/pong @8 (u64); pointer 0
  workEvent: [1, 1], // id @0; event p0
  workStatus: [2, 0], // id @0; state @8 (u16)
  work: [1, 1], // id @0; attrPath p0
  event: [1, 3], // which @0; attrPath p0, union p1, attr p2
  derivation: [1, 10], // bits hasInputDrvs 0, isAggregate 1, globConstituents 2; pointers in schema order
  pair: [0, 2], // Entry (key, value) and InputDrv (drvPath, outputs)
} as const;
const D = { name: 0, system: 1, drvPath: 2, outputs: 3, metaJson: 4, inputDrvs: 5, constituents: 6, namedConstituents: 7, requiredSystemFeatures: 8, extraValueJson: 9 } as const;
const BIT_HAS_INPUT_DRVS = 0;
const BIT_IS_AGGREGATE = 1;
const BIT_GLOB_CONSTITUENTS = 2;

const LIST_BYTE = 2;
const LIST_POINTER = 6;
const LIST_COMPOSITE = 7;

/** Byte offset of word `word` of a one-segment frame (its header is 8 bytes). */
const byteOffset = (word: number): number => 8 + word * 8;

// --- writing -----------------------------------------------------------------

/** A message being written: one segment after an 8-byte frame header, allocated by bumping. */
class SegmentWriter {
  readonly bytes: Buffer;
  /** Next free word of the segment. */
  #next = 0;

  /** `maxWords` must bound the segment: callers add up sizes pessimistically. */
  constructor(maxWords: number) {
    this.bytes = Buffer.alloc(byteOffset(maxWords));
  }

  /** Words `n` allocated, zeroed; returns the first. */
  alloc(words: number): number {
    const at = this.#next;
    this.#next += words;
    return at;
  }

  /** The frame: header (one segment, its size) and the words used. */
  finish(): Buffer {
    this.bytes.writeUInt32LE(0, 0);
    this.bytes.writeUInt32LE(this.#next, 4);
    return this.bytes.subarray(0, byteOffset(this.#next));
  }

  structPointer(pointerWord: number, target: number, dataWords: number, pointerWords: number): void {
    const b = byteOffset(pointerWord);
    this.bytes.writeInt32LE((target - pointerWord - 1) << 2, b);
    this.bytes.writeUInt16LE(dataWords, b + 4);
    this.bytes.writeUInt16LE(pointerWords, b + 6);
  }

  listPointer(pointerWord: number, target: number, elementSize: number, count: number): void {
    const b = byteOffset(pointerWord);
    this.bytes.writeInt32LE(((target - pointerWord - 1) << 2) | 1, b);
    this.bytes.writeUInt32LE(elementSize | (count << 3), b + 4);
  }

  /** A new struct pointed to from `pointerWord`; returns its first word. */
  struct(pointerWord: number, [dataWords, pointerWords]: readonly [number, number]): number {
    const target = this.alloc(dataWords + pointerWords);
    this.structPointer(pointerWord, target, dataWords, pointerWords);
    return target;
  }

  /** Text: NUL-terminated bytes. The empty string stays a null pointer (Text's default). */
  text(pointerWord: number, value: string): void {
    if (value === '') return;
    const start = byteOffset(this.#next);
    const length = this.bytes.write(value, start, 'utf8');
    this.listPointer(pointerWord, this.alloc(Math.ceil((length + 1) / 8)), LIST_BYTE, length + 1);
  }

  texts(pointerWord: number, values: readonly string[]): void {
    if (values.length === 0) return;
    const first = this.alloc(values.length);
    this.listPointer(pointerWord, first, LIST_POINTER, values.length);
    values.forEach((v, i) => this.text(first + i, v));
  }

  /** A list of structs of `layout`; returns each element's first word. */
  structs(pointerWord: number, count: number, [dataWords, pointerWords]: readonly [number, number]): number[] {
    if (count === 0) return [];
    const size = dataWords + pointerWords;
    const tag = this.alloc(1 + count * size);
    this.listPointer(pointerWord, tag, LIST_COMPOSITE, count * size);
    // The tag word: a struct pointer whose offset field is the element count.
    const b = byteOffset(tag);
    this.bytes.writeUInt32LE(count << 2, b);
    this.bytes.writeUInt16LE(dataWords, b + 4);
    this.bytes.writeUInt16LE(pointerWords, b + 6);
    return Array.from({ length: count }, (_, i) => tag + 1 + i * size);
  }

  uint64(word: number, offset: number, value: number): void {
    const b = byteOffset(word) + offset;
    this.bytes.writeUInt32LE(value % 0x1_0000_0000, b);
    this.bytes.writeUInt32LE(Math.floor(value / 0x1_0000_0000), b + 4);
  }

  uint16(word: number, offset: number, value: number): void {
    this.bytes.writeUInt16LE(value, byteOffset(word) + offset);
  }

  bit(word: number, bit: number): void {
    const b = byteOffset(word) + (bit >> 3);
    this.bytes[b] = this.bytes[b]! | (1 << (bit & 7));
  }
}

/** Words a text of `value` may take, with its pointer: UTF-8 is at most 3 bytes per UTF-16 unit. */
const textWords = (value: string): number => 1 + Math.ceil((value.length * 3 + 1) / 8);
const textsWords = (values: readonly string[] | undefined): number => (values ?? []).reduce((n, v) => n + textWords(v), 0);

/**
 * A message whose root (ServerMessage or ClientMessage) holds `which`, a
 * body of `layout`: its writer and the body's first word. `bodyWords` bounds
 * what the body points to.
 */
function startMessage(which: number, layout: readonly [number, number], bodyWords: number): { w: SegmentWriter; body: number } {
  const w = new SegmentWriter(1 + LAYOUT.root[0] + LAYOUT.root[1] + layout[0] + layout[1] + bodyWords);
  const root = w.struct(w.alloc(1), LAYOUT.root);
  w.uint16(root, 0, which);
  return { w, body: w.struct(root + LAYOUT.root[0], layout) };
}

export function encodeWork(id: number, attrPath: readonly string[]): Buffer {
  const { w, body: work } = startMessage(CLIENT_WORK, LAYOUT.work, textsWords(attrPath));
  w.uint64(work, 0, id);
  w.texts(work + LAYOUT.work[0], attrPath);
  return w.finish();
}

export function encodeStatus(id: number, restart: boolean): Buffer {
  const { w, body: status } = startMessage(SERVER_STATUS, LAYOUT.workStatus, 0);
  w.uint64(status, 0, id);
  if (restart) w.uint16(status, 8, STATE_RESTART);
  return w.finish();
}

export function encodeEvent(id: number, result: WorkResult): Buffer {
  const json = 'drvPath' in result ? jsonFields(result) : undefined;
  const eventWords = LAYOUT.event[0] + LAYOUT.event[1] + textsWords(result.attrPath) + resultWords(result, json);
  const { w, body: workEvent } = startMessage(SERVER_EVENT, LAYOUT.workEvent, eventWords);
  w.uint64(workEvent, 0, id);
  const event = w.struct(workEvent + LAYOUT.workEvent[0], LAYOUT.event);
  const pointers = event + LAYOUT.event[0];
  w.texts(pointers, result.attrPath);
  if ('skip' in result) {
    w.uint16(event, 0, EVENT_SKIP);
    return w.finish();
  }
  w.text(pointers + 2, result.attr);
  if ('error' in result) {
    w.uint16(event, 0, EVENT_ERROR);
    w.text(pointers + 1, result.error);
  } else if ('attrs' in result) {
    w.uint16(event, 0, EVENT_ATTRSET);
    w.texts(pointers + 1, result.attrs);
  } else {
    w.uint16(event, 0, EVENT_DERIVATION);
    writeDerivation(w, w.struct(pointers + 1, LAYOUT.derivation), result, json!);
  }
  return w.finish();
}

/** meta and extraValue cross the wire as JSON text (empty: absent). */
function jsonFields(d: DerivationEvent): { meta: string; extraValue: string } {
  return {
    meta: d.meta === undefined ? '' : JSON.stringify(d.meta),
    extraValue: 'extraValue' in d ? JSON.stringify(d.extraValue ?? null) : '',
  };
}

function resultWords(r: WorkResult, json: { meta: string; extraValue: string } | undefined): number {
  if ('skip' in r) return 0;
  if ('error' in r) return textWords(r.attr) + textWords(r.error);
  if ('attrs' in r) return textWords(r.attr) + textsWords(r.attrs);
  const outputs = Object.entries(r.outputs);
  const inputs = Object.entries(r.inputDrvs ?? {});
  return (
    LAYOUT.derivation[0] +
    LAYOUT.derivation[1] +
    [r.attr, r.name, r.system, r.drvPath, json!.meta, json!.extraValue].reduce((n, v) => n + textWords(v), 0) +
    1 + outputs.reduce((n, [k, v]) => n + 2 + textWords(k) + textWords(v), 0) +
    1 + inputs.reduce((n, [k, v]) => n + 2 + textWords(k) + textsWords(v), 0) +
    textsWords(r.constituents) +
    textsWords(r.namedConstituents) +
    textsWords(r.requiredSystemFeatures)
  );
}

function writeDerivation(w: SegmentWriter, d: number, r: DerivationEvent, json: { meta: string; extraValue: string }): void {
  const p = d + LAYOUT.derivation[0];
  w.text(p + D.name, r.name);
  w.text(p + D.system, r.system);
  w.text(p + D.drvPath, r.drvPath);
  const outputs = Object.entries(r.outputs);
  w.structs(p + D.outputs, outputs.length, LAYOUT.pair).forEach((entry, i) => {
    w.text(entry, outputs[i]![0]);
    w.text(entry + 1, outputs[i]![1]);
  });
  w.text(p + D.metaJson, json.meta);
  if (r.inputDrvs !== undefined) {
    w.bit(d, BIT_HAS_INPUT_DRVS);
    const inputs = Object.entries(r.inputDrvs);
    w.structs(p + D.inputDrvs, inputs.length, LAYOUT.pair).forEach((input, i) => {
      w.text(input, inputs[i]![0]);
      w.texts(input + 1, inputs[i]![1]);
    });
  }
  if (r.constituents !== undefined || r.namedConstituents !== undefined) {
    w.bit(d, BIT_IS_AGGREGATE);
    w.texts(p + D.constituents, r.constituents ?? []);
    w.texts(p + D.namedConstituents, r.namedConstituents ?? []);
    if (r.globConstituents) w.bit(d, BIT_GLOB_CONSTITUENTS);
  }
  w.texts(p + D.requiredSystemFeatures, r.requiredSystemFeatures);
  w.text(p + D.extraValueJson, json.extraValue);
}

// --- reading -----------------------------------------------------------------

/** Thrown inside the reader for anything outside the canonical subset; never escapes. */
class NotCanonical extends Error {}

/**
 * Runs a read of the canonical subset: undefined when the frame is outside
 * it (or invalid: capnp-es will say how), ProtocolError when it reads too
 * much (which capnp-es would not notice).
 */
function canonically<T>(read: () => T | undefined): T | undefined {
  try {
    return read();
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    return undefined;
  }
}

/** A struct in the segment: where its data and pointers start, and their sizes. */
interface StructRef {
  data: number;
  dataBytes: number;
  /** Word index of the first pointer. */
  pointers: number;
  pointerCount: number;
}

const NULL_STRUCT: StructRef = { data: 0, dataBytes: 0, pointers: 0, pointerCount: 0 };

class SegmentReader {
  readonly #bytes: Buffer;
  readonly #words: number;
  readonly #budget: ReadBudget;

  constructor(bytes: Buffer, words: number) {
    this.#bytes = bytes;
    this.#words = words;
    this.#budget = new ReadBudget(bytes.length);
  }

  /** The struct that pointer word `p` points to; a null or absent (-1) pointer reads as the default (empty) struct. */
  struct(p: number): StructRef {
    if (p < 0) return NULL_STRUCT;
    const b = byteOffset(p);
    const low = this.#bytes.readInt32LE(b);
    const high = this.#bytes.readUInt32LE(b + 4);
    if (low === 0 && high === 0) return NULL_STRUCT;
    if ((low & 3) !== 0) throw new NotCanonical();
    return this.#structAt(p + 1 + (low >> 2), high & 0xffff, high >>> 16);
  }

  #structAt(word: number, dataWords: number, pointerCount: number): StructRef {
    if (word < 0 || word + dataWords + pointerCount > this.#words) throw new NotCanonical();
    return { data: byteOffset(word), dataBytes: dataWords * 8, pointers: word + dataWords, pointerCount };
  }

  /** Pointer `i` of struct `s`: its word, or -1 when the struct is too old to have it. */
  pointer(s: StructRef, i: number): number {
    return i < s.pointerCount ? s.pointers + i : -1;
  }

  uint16(s: StructRef, offset: number): number {
    return offset + 2 <= s.dataBytes ? this.#bytes.readUInt16LE(s.data + offset) : 0;
  }

  uint64(s: StructRef, offset: number): number {
    if (offset + 8 > s.dataBytes) return 0;
    return this.#bytes.readUInt32LE(s.data + offset) + this.#bytes.readUInt32LE(s.data + offset + 4) * 0x1_0000_0000;
  }

  bit(s: StructRef, bit: number): boolean {
    return (bit >> 3) < s.dataBytes && (this.#bytes[s.data + (bit >> 3)]! & (1 << (bit & 7))) !== 0;
  }

  /** A list pointer at word `p` of the expected element size: its first word and length; undefined for null. */
  #list(p: number, elementSize: number): { first: number; count: number } | undefined {
    if (p < 0) return undefined;
    const b = byteOffset(p);
    const low = this.#bytes.readInt32LE(b);
    const high = this.#bytes.readUInt32LE(b + 4);
    if (low === 0 && high === 0) return undefined;
    if ((low & 3) !== 1 || (high & 7) !== elementSize) throw new NotCanonical();
    const first = p + 1 + (low >> 2);
    const count = high >>> 3;
    const words = elementSize === LIST_BYTE ? Math.ceil(count / 8) : count + (elementSize === LIST_COMPOSITE ? 1 : 0);
    if (first < 0 || first + words > this.#words) throw new NotCanonical();
    return { first, count };
  }

  text(p: number): string {
    const { first, count } = this.#list(p, LIST_BYTE) ?? { first: 0, count: 0 };
    if (count === 0) return '';
    const start = byteOffset(first);
    this.#budget.charge(count);
    if (this.#bytes[start + count - 1] !== 0) throw new NotCanonical();
    return this.#bytes.toString('utf8', start, start + count - 1);
  }

  texts(p: number): string[] {
    const { first, count } = this.#list(p, LIST_POINTER) ?? { first: 0, count: 0 };
    return Array.from({ length: count }, (_, i) => this.text(first + i));
  }

  /** The elements of a list of structs. */
  structs(p: number): StructRef[] {
    const list = this.#list(p, LIST_COMPOSITE);
    if (!list) return [];
    const { first: tag, count: words } = list;
    const b = byteOffset(tag);
    const tagLow = this.#bytes.readInt32LE(b);
    const dataWords = this.#bytes.readUInt16LE(b + 4);
    const pointerCount = this.#bytes.readUInt16LE(b + 6);
    const count = tagLow >> 2;
    if ((tagLow & 3) !== 0 || count < 0 || count * (dataWords + pointerCount) > words) throw new NotCanonical();
    // Zero-sized elements take no room: a small frame could announce billions.
    this.#budget.charge(count * 8);
    return Array.from({ length: count }, (_, i) => this.#structAt(tag + 1 + i * (dataWords + pointerCount), dataWords, pointerCount));
  }
}

/** The root struct of a one-segment frame, or undefined. */
function readRoot(frame: Buffer): { reader: SegmentReader; root: StructRef } | undefined {
  if (frame.length < 16 || frame.readUInt32LE(0) !== 0) return undefined;
  const words = frame.readUInt32LE(4);
  if (frame.length !== 8 + words * 8) return undefined;
  const reader = new SegmentReader(frame, words);
  return { reader, root: reader.struct(0) };
}

/** A Work frame, or undefined for any other or non-canonical frame. */
export function readWork(frame: Buffer): { id: number; attrPath: string[] } | undefined {
  return canonically(() => {
    const message = readRoot(frame);
    if (!message || message.reader.uint16(message.root, 0) !== CLIENT_WORK) return undefined;
    const { reader, root } = message;
    const work = reader.struct(reader.pointer(root, 0));
    return { id: reader.uint64(work, 0), attrPath: reader.texts(reader.pointer(work, 0)) };
  });
}

/** An Event or Status frame, or undefined for any other or non-canonical frame. */
export function readItemAnswer(frame: Buffer): { kind: 'event'; id: number; event: WorkResult } | { kind: 'status'; id: number; restart: boolean } | undefined {
  return canonically(() => {
    const message = readRoot(frame);
    if (!message) return undefined;
    const { reader, root } = message;
    const which = reader.uint16(root, 0);
    if (which !== SERVER_EVENT && which !== SERVER_STATUS) return undefined;
    const body = reader.struct(reader.pointer(root, 0));
    const id = reader.uint64(body, 0);
    if (which === SERVER_STATUS) return { kind: 'status', id, restart: reader.uint16(body, 8) === STATE_RESTART };
    const event = readEvent(reader, reader.struct(reader.pointer(body, 0)));
    return event && { kind: 'event', id, event };
  });
}

function readEvent(r: SegmentReader, e: StructRef): WorkResult | undefined {
  const attrPath = r.texts(r.pointer(e, 0));
  const union = r.pointer(e, 1);
  const which = r.uint16(e, 0);
  if (which === EVENT_SKIP) return { skip: true, attrPath };
  const attr = r.text(r.pointer(e, 2));
  switch (which) {
    case EVENT_ERROR:
      return { attr, attrPath, error: r.text(union), fatal: false };
    case EVENT_ATTRSET:
      return { attr, attrPath, attrs: r.texts(union) };
    case EVENT_DERIVATION:
      return readDerivation(r, r.struct(union), attr, attrPath);
    default:
      return undefined;
  }
}

function readDerivation(r: SegmentReader, d: StructRef, attr: string, attrPath: string[]): DerivationEvent {
  const p = (i: number) => r.pointer(d, i);
  const event: DerivationEvent = {
    attr,
    attrPath,
    name: r.text(p(D.name)),
    system: r.text(p(D.system)),
    drvPath: r.text(p(D.drvPath)),
    outputs: Object.fromEntries(r.structs(p(D.outputs)).map((o) => [r.text(r.pointer(o, 0)), r.text(r.pointer(o, 1))])),
    requiredSystemFeatures: r.texts(p(D.requiredSystemFeatures)),
  };
  const meta = r.text(p(D.metaJson));
  if (meta !== '') event.meta = JSON.parse(meta) as Record<string, unknown>;
  const extraValue = r.text(p(D.extraValueJson));
  if (extraValue !== '') event.extraValue = JSON.parse(extraValue) as unknown;
  if (r.bit(d, BIT_HAS_INPUT_DRVS)) event.inputDrvs = Object.fromEntries(r.structs(p(D.inputDrvs)).map((i) => [r.text(r.pointer(i, 0)), r.texts(r.pointer(i, 1))]));
  if (r.bit(d, BIT_IS_AGGREGATE)) {
    event.constituents = r.texts(p(D.constituents));
    event.namedConstituents = r.texts(p(D.namedConstituents));
    event.globConstituents = r.bit(d, BIT_GLOB_CONSTITUENTS);
  }
  return event;
}
