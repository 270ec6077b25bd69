/**
 * Splits a text stream into lines. Pure: chunks in, complete lines out; a
 * partial last line waits for the next chunk.
 */
export class LineSplitter {
  #rest = '';

  /** The lines `chunk` completes, without their newlines. */
  push(chunk: string): string[] {
    const lines = (this.#rest + chunk).split('\n');
    this.#rest = lines.pop() ?? '';
    return lines;
  }

  /** Text received after the last newline. */
  get pending(): string {
    return this.#rest;
  }

  clear(): void {
    this.#rest = '';
  }
}
