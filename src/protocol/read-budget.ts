/**
 * Bounds on what reading one message may produce. Cap'n Proto lets many
 * pointers share one text, so a small frame can name gigabytes of strings;
 * capnp-es counts pointers followed but not the bytes behind them. Every
 * reader of our messages charges the text it reads here, up to a fixed
 * multiple of the frame's size (legitimate messages read each byte once).
 */

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/** Text a message may read, as a multiple of its frame size. */
const AMPLIFICATION = 8;

export class ReadBudget {
  #left: number;

  constructor(frameBytes: number) {
    this.#left = AMPLIFICATION * frameBytes;
  }

  /** Takes `bytes` from the budget; throws ProtocolError once it is spent. */
  charge(bytes: number): void {
    this.#left -= bytes;
    if (this.#left < 0) throw new ProtocolError(`message reads more than ${AMPLIFICATION} times its size (pointers sharing data)`);
  }
}
