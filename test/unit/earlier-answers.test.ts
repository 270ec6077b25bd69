/** EarlierAnswers: what became of each attribute an attempt at a chunk delivered. */
import { expect, test } from 'vitest';
import { EarlierAnswers } from '../../src/master/earlier-answers.js';

test('tells apart a leaf, a walked set, what lies under a set whose children were queued, and what was never delivered', () => {
  const earlier = new EarlierAnswers();
  earlier.add(['a'], 'leaf');
  earlier.add(['s'], 'walked');
  earlier.add(['q'], 'children-queued');
  expect(earlier.before(['a'])).toBe('delivered');
  expect(earlier.before(['s'])).toBe('walked');
  expect(earlier.before(['s', 'x'])).toBeUndefined();
  expect(earlier.before(['q'])).toBe('delivered');
  expect(earlier.before(['q', 'x', 'y'])).toBe('queued');
  expect(earlier.before(['b'])).toBeUndefined();
  expect(earlier.before([])).toBeUndefined();
});

test('paths that join alike stay apart: the root and a child named "", a name with a dot and two names', () => {
  const earlier = new EarlierAnswers();
  earlier.add([], 'children-queued');
  earlier.add(['a.b'], 'leaf');
  const other = new EarlierAnswers();
  other.add([''], 'leaf');
  expect(earlier.before([])).toBe('delivered');
  expect(earlier.before(['', 'x'])).toBe('queued');
  expect(other.before([])).toBeUndefined();
  expect(other.before([''])).toBe('delivered');
  const dotted = new EarlierAnswers();
  dotted.add(['a.b'], 'leaf');
  expect(dotted.before(['a', 'b'])).toBeUndefined();
  const prefix = new EarlierAnswers();
  prefix.add(['ab'], 'children-queued');
  expect(prefix.before(['a', 'x'])).toBeUndefined();
  expect(prefix.before(['ab', 'x'])).toBe('queued');
});

test('requeue hands over what was delivered under a walked set, and counts all under it as the queue’s from then on', () => {
  const earlier = new EarlierAnswers();
  earlier.add(['s'], 'walked');
  earlier.add(['s', 'x'], 'leaf');
  earlier.add(['s', 'y'], 'children-queued');
  earlier.add(['st'], 'leaf');
  earlier.add(['t'], 'leaf');
  const under = earlier.requeue(['s']);
  expect(under.before(['s', 'x'])).toBe('delivered');
  expect(under.before(['s', 'y', 'q'])).toBe('queued');
  expect(under.before(['s', 'z'])).toBeUndefined();
  expect(under.before(['st'])).toBeUndefined();
  expect(under.before(['t'])).toBeUndefined();
  expect(earlier.before(['s'])).toBe('delivered');
  expect(earlier.before(['s', 'z'])).toBe('queued');
  expect(earlier.before(['st'])).toBe('delivered');
});
