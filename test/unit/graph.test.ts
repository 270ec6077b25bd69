import { expect, test } from 'vitest';
import type { DerivationEvent } from '../../src/events.js';
import { addToGraph, diffGraphs, emptyGraph, queryGraph } from '../../src/session/graph.js';

const drv = (attr: string, system = 'x86_64-linux', drvPath = `/d/${attr}.drv`): DerivationEvent => ({
  attr,
  attrPath: attr.split('.'),
  name: attr,
  system,
  drvPath,
  outputs: {},
  requiredSystemFeatures: [],
});

function graphOf(...events: Parameters<typeof addToGraph>[1][]) {
  const g = emptyGraph();
  for (const e of events) addToGraph(g, e);
  return g;
}

const g = graphOf(drv('packages.hello'), drv('packages.arm', 'aarch64-linux'), drv('packagesExtra.x'), drv('tests.unit'), {
  attr: 'packages.broken',
  attrPath: ['packages', 'broken'],
  error: 'e',
  fatal: false,
});

test('query by system, by prefix of whole names, exactly and by glob', () => {
  const attrs = (filter: Parameters<typeof queryGraph>[1]) => queryGraph(g, filter).map((e) => e.attr);
  expect(attrs({})).toEqual(['packages.arm', 'packages.hello', 'packagesExtra.x', 'tests.unit', 'packages.broken']);
  expect(attrs({ systems: ['aarch64-linux'] })).toEqual(['packages.arm']);
  expect(attrs({ attrs: ['packages'] })).toEqual(['packages.arm', 'packages.hello', 'packages.broken']);
  expect(attrs({ attrs: ['tests.unit'] })).toEqual(['tests.unit']);
  expect(attrs({ attrs: ['packages*'] })).toEqual(['packages.arm', 'packages.hello', 'packagesExtra.x', 'packages.broken']);
  expect(attrs({ attrs: ['*.?nit', 'packages.hello'] })).toEqual(['packages.hello', 'tests.unit']);
  expect(attrs({ attrs: ['packages'], systems: ['x86_64-linux'] })).toEqual(['packages.hello']);
});

test('diff: added, removed, changed and the new errors', () => {
  const before = graphOf(drv('a'), drv('b'), drv('c'));
  const after = graphOf(drv('a'), drv('b', 'x86_64-linux', '/d/b2.drv'), drv('d'), { attr: 'e', attrPath: ['e'], error: 'x', fatal: false });
  const diff = diffGraphs(before, after);
  expect(diff.added.map((d) => d.attr)).toEqual(['d']);
  expect(diff.removed.map((d) => d.attr)).toEqual(['c']);
  expect(diff.changed.map((c) => [c.attr, c.before.drvPath, c.after.drvPath])).toEqual([['b', '/d/b.drv', '/d/b2.drv']]);
  expect(diff.errors.map((e) => e.attr)).toEqual(['e']);
});
