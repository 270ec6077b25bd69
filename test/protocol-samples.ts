/** Messages of the per-chunk protocol covering every kind and field, for the codec tests. */
import type { DerivationEvent, WorkResult } from '../src/events.js';
import type { ClientMessage, ServerMessage } from '../src/protocol/codec.js';

const FULL_DERIVATION: DerivationEvent = {
  attr: '"a.b"',
  attrPath: ['a.b'],
  name: 'n',
  system: 'aarch64-linux',
  drvPath: '/nix/store/x.drv',
  outputs: { out: '/nix/store/o', dev: '/nix/store/d' },
  requiredSystemFeatures: ['kvm', 'big-parallel'],
  extraValue: { version: '1.0', list: [1, null] },
  meta: { description: 'd', nested: { list: [1, 'two'] } },
  inputDrvs: { '/nix/store/i.drv': ['out', 'dev'], '/nix/store/j.drv': [] },
  constituents: ['/nix/store/c.drv'],
  namedConstituents: ['hello'],
  globConstituents: true,
};

/** A set whose children the worker walked itself, followed by their results, as a chunk's answer holds them. */
const WALKED_SET: WorkResult[] = [
  { attr: 's', attrPath: ['s'], attrs: ['x', 'y', 'z', 'w'], childrenAnswered: true },
  { attr: 's.x', attrPath: ['s', 'x'], name: 'x', system: 'x86_64-linux', drvPath: '/nix/store/sx.drv', outputs: { out: '/nix/store/sx' }, requiredSystemFeatures: [] },
  { attr: 's.y', attrPath: ['s', 'y'], error: 'assertion failed', fatal: false },
  { skip: true, attrPath: ['s', 'z'] },
  { attr: 's.w', attrPath: ['s', 'w'], attrs: ['deeper'] },
];

export const ITEM_ANSWERS: ServerMessage[] = [
  { kind: 'status', id: 4, restart: true },
  { kind: 'status', id: 2 ** 53 - 1, restart: false },
  { kind: 'event', id: 9, events: [] },
  { kind: 'event', id: 1, events: [{ skip: true, attrPath: ['x'] }] },
  { kind: 'event', id: 2, events: [{ attr: 'a', attrPath: ['a'], attrs: ['b', 'c'] }] },
  { kind: 'event', id: 3, events: [{ attr: 'e', attrPath: ['e'], error: 'boom\n  at x', fatal: false }] },
  { kind: 'event', id: 7, events: [{ attr: '', attrPath: [], attrs: [] }] },
  { kind: 'event', id: 5, events: [FULL_DERIVATION] },
  { kind: 'event', id: 6, events: [{ attr: 'p', attrPath: ['p'], name: 'p', system: 's', drvPath: '/d', outputs: {}, requiredSystemFeatures: [], extraValue: null }] },
  {
    kind: 'event',
    id: 8,
    events: [{ attr: 'ünï.😀', attrPath: ['ünï', '😀', 'a\tb'], name: 'x'.repeat(3000), system: '', drvPath: '/d', outputs: { out: '' }, requiredSystemFeatures: [], inputDrvs: {} }],
  },
  { kind: 'event', id: 10, events: [...WALKED_SET, FULL_DERIVATION, { attr: 'walked', attrPath: ['walked'], attrs: [], childrenAnswered: true }] },
  {
    kind: 'event',
    id: 11,
    events: Array.from({ length: 300 }, (_, i): WorkResult => ({ attr: `big.d${i}`, attrPath: ['big', `d${i}`], name: `d-${i}`, system: 'x86_64-linux', drvPath: `/nix/store/${i}.drv`, outputs: { out: `/nix/store/${i}` }, requiredSystemFeatures: [] })),
  },
];

export const WORKS: ClientMessage[] = [
  { kind: 'work', id: 1, chunk: [], budget: 0 },
  { kind: 'work', id: 2 ** 40 + 3, chunk: [{ kind: 'path', path: ['a', 'b c', 'ü', ''] }], budget: 1 },
  { kind: 'work', id: 3, chunk: [{ kind: 'path', path: [] }], budget: 4096 },
  { kind: 'work', id: 4, chunk: [{ kind: 'siblings', parent: [], from: 0, names: [] }], budget: 7 },
  {
    kind: 'work',
    id: 5,
    chunk: [
      { kind: 'path', path: ['roots', 'one'] },
      { kind: 'siblings', parent: ['pkgs', 'ünï', '😀'], from: 2 ** 32 - 1, names: ['a.b', '', 'ç'] },
      { kind: 'path', path: ['roots', 'two'] },
      { kind: 'siblings', parent: ['pkgs'], from: 17, names: Array.from({ length: 2000 }, (_, i) => `package-${i}`) },
    ],
    budget: 2500,
  },
  { kind: 'work', id: 6, chunk: [{ kind: 'part', path: [], part: 0, parts: 1 }], budget: 4096 },
  { kind: 'work', id: 7, chunk: [{ kind: 'part', path: ['hydraJobs', 'ü'], part: 2 ** 32 - 2, parts: 2 ** 32 - 1 }], budget: 1 },
];
