/**
 * One-segment Cap'n Proto messages written and read directly as bytes, for
 * messages too frequent to pay for capnp-es (see item-messages.ts). This
 * knows the encoding, not any schema: callers give struct sizes and where
 * each field sits.
 *
 * Writing: one segment, after an 8-byte frame header, allocated by bumping.
 * Reading takes the canonical subset: one segment, no far pointers, structs
 * and lists of the kinds the caller expects. For anything else the read gives
 * undefined and the caller decodes with capnp-es, which reads any valid
 * message and refuses invalid ones. Every read here is bounds-checked, and
 * the text read is charged to a ReadBudget, so a crafted frame can neither
 * make us read out of bounds nor amplify one text into gigabytes.
 */
import { ProtocolError, ReadBudget } from './read-budget.js';

/** The words of a struct: its data section, then its pointer section. */
export interface StructSize {
  readonly dataWords: number;
  readonly pointerWords: number;
}

export const structWords = (size: StructSize): number => size.dataWords + size.pointerWords;

/** The word of pointer `slot` of a struct of `size` that starts at word `struct`. */
export const pointerWord = (struct: number, size: StructSize, slot: number): number => struct + size.dataWords + slot;

/** Words a text of `value` may take, with its pointer: UTF-8 is at most 3 bytes per UTF-16 unit. */
export const textWords = (value: string): number => 1 + Math.ceil((value.length * 3 + 1) / 8);

/** Words a list of `values` may take, with the pointers to its texts (not the one to the list). */
export const textsWords = (values: readonly string[] | undefined): number => (values ?? []).reduce((n, v) => n + textWords(v), 0);

// List element sizes, as list pointers encode them.
const LIST_BYTE = 2;
const LIST_POINTER = 6;
const LIST_COMPOSITE = 7;

/** Byte offset of word `word` of a one-segment frame (its header is 8 bytes). */
const byteOffset = (word: number): number => 8 + word * 8;

// --- writing -----------------------------------------------------------------

/** A message being written. Structs are given by their first word, fields by their offset in it. */
export class SegmentWriter {
  readonly #bytes: Buffer;
  /** First word of the root struct. */
  readonly root: number;
  /** Next free word of the segment. */
  #next = 0;

  /** A message whose root struct is of `root`; `words` must bound everything else it holds: callers add up sizes pessimistically. */
  constructor(root: StructSize, words: number) {
    this.#bytes = Buffer.alloc(byteOffset(1 + structWords(root) + words));
    this.root = this.struct(this.#alloc(1), root);
  }

  /** `words` words allocated (zeroed, as the whole buffer is); returns the first. */
  #alloc(words: number): number {
    const at = this.#next;
    this.#next += words;
    return at;
  }

  /** The frame: header (one segment, its size) and the words used. */
  finish(): Buffer {
    this.#bytes.writeUInt32LE(0, 0);
    this.#bytes.writeUInt32LE(this.#next, 4);
    return this.#bytes.subarray(0, byteOffset(this.#next));
  }

  /** A struct pointer at word `at` whose offset field is `offset` (words from the next word to the target). */
  #structPointer(at: number, offset: number, size: StructSize): void {
    const b = byteOffset(at);
    this.#bytes.writeInt32LE(offset << 2, b);
    this.#bytes.writeUInt16LE(size.dataWords, b + 4);
    this.#bytes.writeUInt16LE(size.pointerWords, b + 6);
  }

  #listPointer(at: number, target: number, elementSize: number, count: number): void {
    const b = byteOffset(at);
    this.#bytes.writeInt32LE(((target - at - 1) << 2) | 1, b);
    this.#bytes.writeUInt32LE(elementSize | (count << 3), b + 4);
  }

  /** A new struct of `size`, pointed to from word `at`; returns its first word. */
  struct(at: number, size: StructSize): number {
    const target = this.#alloc(structWords(size));
    this.#structPointer(at, target - at - 1, size);
    return target;
  }

  /** Text pointed to from word `at`: NUL-terminated bytes. The empty string stays a null pointer (Text's default). */
  text(at: number, value: string): void {
    if (value === '') return;
    const start = byteOffset(this.#next);
    const length = this.#bytes.write(value, start, 'utf8');
    this.#listPointer(at, this.#alloc(Math.ceil((length + 1) / 8)), LIST_BYTE, length + 1);
  }

  texts(at: number, values: readonly string[]): void {
    if (values.length === 0) return;
    const first = this.#alloc(values.length);
    this.#listPointer(at, first, LIST_POINTER, values.length);
    values.forEach((v, i) => this.text(first + i, v));
  }

  /** A list of `count` structs of `size`, pointed to from word `at`; returns each element's first word. */
  structs(at: number, count: number, size: StructSize): number[] {
    if (count === 0) return [];
    const words = structWords(size);
    const tag = this.#alloc(1 + count * words);
    this.#listPointer(at, tag, LIST_COMPOSITE, count * words);
    // The tag word: a struct pointer whose offset field is the element count.
    this.#structPointer(tag, count, size);
    return Array.from({ length: count }, (_, i) => tag + 1 + i * words);
  }

  uint64(struct: number, offset: number, value: number): void {
    const b = byteOffset(struct) + offset;
    this.#bytes.writeUInt32LE(value % 0x1_0000_0000, b);
    this.#bytes.writeUInt32LE(Math.floor(value / 0x1_0000_0000), b + 4);
  }

  uint32(struct: number, offset: number, value: number): void {
    this.#bytes.writeUInt32LE(value, byteOffset(struct) + offset);
  }

  uint16(struct: number, offset: number, value: number): void {
    this.#bytes.writeUInt16LE(value, byteOffset(struct) + offset);
  }

  bit(struct: number, bit: number): void {
    const b = byteOffset(struct) + (bit >> 3);
    this.#bytes[b] = this.#bytes[b]! | (1 << (bit & 7));
  }
}

// --- reading -----------------------------------------------------------------

/** Thrown inside the reader for anything outside the canonical subset; never escapes readCanonical. */
class NotCanonical extends Error {}

/** For readers given to readCanonical: the frame holds something they do not read (an unknown union member); capnp-es decides. */
export function decline(): never {
  throw new NotCanonical();
}

/** A struct in the segment: where its data and pointers start, and their sizes. */
export interface StructRef {
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

  /** Pointer `slot` of struct `s`: its word, or -1 when the struct is too old to have it. */
  pointer(s: StructRef, slot: number): number {
    return slot < s.pointerCount ? s.pointers + slot : -1;
  }

  uint16(s: StructRef, offset: number): number {
    return offset + 2 <= s.dataBytes ? this.#bytes.readUInt16LE(s.data + offset) : 0;
  }

  uint32(s: StructRef, offset: number): number {
    return offset + 4 <= s.dataBytes ? this.#bytes.readUInt32LE(s.data + offset) : 0;
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

export type { SegmentReader };

/**
 * Reads a one-segment frame with `read`, given its root struct: undefined
 * when the frame is outside the canonical subset (or invalid: capnp-es will
 * say how), ProtocolError when it reads too much (which capnp-es would not
 * notice).
 */
export function readCanonical<T>(frame: Buffer, read: (reader: SegmentReader, root: StructRef) => T | undefined): T | undefined {
  if (frame.length < 16 || frame.readUInt32LE(0) !== 0) return undefined;
  const words = frame.readUInt32LE(4);
  if (frame.length !== byteOffset(words)) return undefined;
  try {
    const reader = new SegmentReader(frame, words);
    return read(reader, reader.struct(0));
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    return undefined;
  }
}
