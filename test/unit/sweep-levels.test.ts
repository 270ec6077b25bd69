/** SweepLevels and itemRanges: which attribute each description of a sweep is for, and what a sweep that stops leaves. */
import { expect, test } from 'vitest';
import type { Description } from '../../src/worker/nix-helpers.js';
import { SweepLevels, itemRanges, type SweepItem } from '../../src/worker/sweep-levels.js';

const drv = (name: string): Description => [0, name, 'x86_64-linux', `/nix/store/${name}.drv`, ['out', `/nix/store/${name}`], [], null];
const walk = (...names: string[]): Description => [1, names];
const skip: Description = [2];
const items = (parent: string[], names: string[], from = 0): SweepItem[] => names.map((name, i) => ({ path: [...parent, name], index: from + i }));
const paths = (pairs: Array<[SweepItem, Description]>) => pairs.map(([item]) => item.path.join('.'));

test('descriptions go to the attributes level by level, children of walked sets after the level that found them', () => {
  const levels = new SweepLevels(items([], ['a', 'b', 'c']));
  expect(paths(levels.take([walk('x', 'y'), drv('b')]))).toEqual(['a', 'b']);
  expect(paths(levels.take([walk('z'), drv('ax'), walk(), drv('cz')]))).toEqual(['c', 'a.x', 'a.y', 'c.z']);
  expect(levels.remaining()).toEqual([]);
});

test('a sweep that stops leaves the rest of its level, then the children it found, with their positions', () => {
  const levels = new SweepLevels(items(['top'], ['a', 'b', 'c', 'd'], 10));
  levels.take([walk('p', 'q'), skip]);
  expect(levels.remaining()).toEqual([
    { path: ['top', 'c'], index: 12 },
    { path: ['top', 'd'], index: 13 },
    { path: ['top', 'a', 'p'], index: 0 },
    { path: ['top', 'a', 'q'], index: 1 },
  ]);
});

test('more descriptions than attributes is an error, not a guess', () => {
  const levels = new SweepLevels(items([], ['a']));
  expect(() => levels.take([drv('a'), drv('b')])).toThrow(/more attributes/);
});

test('consecutive siblings make one range; a gap or another parent starts the next', () => {
  const list = [...items(['p'], ['a', 'b', 'c'], 4), ...items(['p'], ['e'], 8), ...items(['q'], ['f', 'g'], 9)];
  expect(itemRanges(list)).toEqual([
    { parent: ['p'], from: 4, count: 3 },
    { parent: ['p'], from: 8, count: 1 },
    { parent: ['q'], from: 9, count: 2 },
  ]);
  expect(itemRanges([])).toEqual([]);
});

test('a part takes every parts-th child of its root, from its own position, and what it leaves keeps those positions', () => {
  const levels = new SweepLevels([{ path: [], index: -1 }], { part: 1, parts: 3 });
  const names = ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h'];
  expect(paths(levels.take([walk(...names), walk('x'), drv('e')]))).toEqual(['', 'b', 'e']);
  expect(levels.remaining()).toEqual([
    { path: ['h'], index: 7 },
    { path: ['b', 'x'], index: 0 },
  ]);
  expect(paths(levels.take([drv('h'), drv('bx')]))).toEqual(['h', 'b.x']);
  expect(levels.remaining()).toEqual([]);
});
