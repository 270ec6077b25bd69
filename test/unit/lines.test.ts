import { expect, test } from 'vitest';
import { LineSplitter } from '../../src/lines.js';

test('lines come out whole however the text is cut into chunks', () => {
  const text = 'first\nsecond line\n\nlong' + 'x'.repeat(200) + '\nlast partial';
  for (const size of [1, 2, 7, 64, text.length]) {
    const splitter = new LineSplitter();
    const lines: string[] = [];
    for (let at = 0; at < text.length; at += size) lines.push(...splitter.push(text.slice(at, at + size)));
    expect(lines).toEqual(['first', 'second line', '', 'long' + 'x'.repeat(200)]);
    expect(splitter.pending).toBe('last partial');
    splitter.clear();
    expect(splitter.pending).toBe('');
  }
});
