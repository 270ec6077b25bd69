/** Messages of the per-item protocol covering every kind and field, for the codec tests. */
import type { ClientMessage, ServerMessage } from '../src/protocol/codec.js';

export const ITEM_ANSWERS: ServerMessage[] = [
  { kind: 'status', id: 4, restart: true },
  { kind: 'status', id: 2 ** 53 - 1, restart: false },
  { kind: 'event', id: 1, event: { skip: true, attrPath: ['x'] } },
  { kind: 'event', id: 2, event: { attr: 'a', attrPath: ['a'], attrs: ['b', 'c'] } },
  { kind: 'event', id: 3, event: { attr: 'e', attrPath: ['e'], error: 'boom\n  at x', fatal: false } },
  { kind: 'event', id: 7, event: { attr: '', attrPath: [], attrs: [] } },
  {
    kind: 'event',
    id: 5,
    event: {
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
    },
  },
  { kind: 'event', id: 6, event: { attr: 'p', attrPath: ['p'], name: 'p', system: 's', drvPath: '/d', outputs: {}, requiredSystemFeatures: [], extraValue: null } },
  { kind: 'event', id: 8, event: { attr: 'ünï.😀', attrPath: ['ünï', '😀', 'a\tb'], name: 'x'.repeat(3000), system: '', drvPath: '/d', outputs: { out: '' }, requiredSystemFeatures: [], inputDrvs: {} } },
];

export const WORKS: ClientMessage[] = [
  { kind: 'work', id: 1, attrPath: [] },
  { kind: 'work', id: 2 ** 40 + 3, attrPath: ['a', 'b c', 'ü', ''] },
];
