/**
 * Cap'n Proto standard stream framing, read from a byte stream with bounds.
 * A frame is: segment count minus one (uint32 LE), each segment's size in
 * 8-byte words (uint32 LE), padding to a word boundary, then the segments.
 * Pure: bytes in, whole frames out. A peer that announces more segments or
 * bytes than allowed is rejected from the header alone, before anything is
 * buffered, so it cannot make us allocate.
 */

export interface FrameLimits {
  /** Largest whole frame, header included, in bytes. */
  maxFrameBytes: number;
  maxSegments: number;
}

export const DEFAULT_FRAME_LIMITS: FrameLimits = { maxFrameBytes: 16 * 1024 * 1024, maxSegments: 64 };

export class FramingError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FramingError';
  }
}

export class FrameDecoder {
  readonly #limits: FrameLimits;
  #chunks: Buffer[] = [];
  #buffered = 0;
  /** Size of the frame being read, once its header is known. */
  #frameBytes: number | undefined;

  constructor(limits: FrameLimits = DEFAULT_FRAME_LIMITS) {
    this.#limits = limits;
  }

  /** Bytes held for an incomplete frame. */
  get buffered(): number {
    return this.#buffered;
  }

  /** Adds bytes; returns the frames they complete. Throws FramingError on a bad or oversized header. */
  push(chunk: Buffer): Buffer[] {
    this.#chunks.push(chunk);
    this.#buffered += chunk.length;
    const frames: Buffer[] = [];
    for (;;) {
      this.#frameBytes ??= this.#readHeader();
      if (this.#frameBytes === undefined || this.#buffered < this.#frameBytes) return frames;
      frames.push(this.#take(this.#frameBytes));
      this.#frameBytes = undefined;
    }
  }

  /** The whole frame size, from the header, when enough of it has arrived. */
  #readHeader(): number | undefined {
    if (this.#buffered < 4) return undefined;
    const head = this.#peek(Math.min(this.#buffered, 8 + 4 * this.#limits.maxSegments));
    const segments = head.readUInt32LE(0) + 1;
    if (segments > this.#limits.maxSegments) throw new FramingError(`frame announces ${segments} segments (at most ${this.#limits.maxSegments})`);
    const headerBytes = Math.ceil((4 + 4 * segments) / 8) * 8;
    if (head.length < 4 + 4 * segments) return undefined;
    let words = 0;
    for (let i = 0; i < segments; i++) words += head.readUInt32LE(4 + 4 * i);
    const total = headerBytes + words * 8;
    if (words === 0) throw new FramingError('frame has no content');
    if (total > this.#limits.maxFrameBytes) throw new FramingError(`frame of ${total} bytes is over the limit of ${this.#limits.maxFrameBytes}`);
    return total;
  }

  #peek(n: number): Buffer {
    if (this.#chunks[0]!.length < n) this.#chunks = [Buffer.concat(this.#chunks)];
    return this.#chunks[0]!.subarray(0, n);
  }

  #take(n: number): Buffer {
    const all = this.#chunks.length === 1 ? this.#chunks[0]! : Buffer.concat(this.#chunks);
    const frame = all.subarray(0, n);
    const rest = all.subarray(n);
    this.#chunks = rest.length > 0 ? [rest] : [];
    this.#buffered = rest.length;
    return frame;
  }
}
