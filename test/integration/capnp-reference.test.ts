/**
 * The per-item messages against the reference Cap'n Proto implementation
 * (Debian's `capnp` tool): what we write, it reads with the right field
 * names and values; what it writes from the schema, we read back, on the
 * fast path. This checks the field offsets in src/protocol/item-messages.ts
 * against schema/evix.capnp itself, not against our own reader.
 */
import { execFileSync } from 'node:child_process';
import { expect, test } from 'vitest';
import type { WorkResult } from '../../src/events.js';
import { decodeClient, decodeServer, encodeClient, encodeServer, type ClientMessage, type ServerMessage } from '../../src/protocol/codec.js';
import { readItemAnswer, readWork } from '../../src/protocol/item-messages.js';
import { ROOT } from '../helpers.js';
import { ITEM_ANSWERS, WORKS } from '../protocol-samples.js';

const SCHEMA = `${ROOT}schema/evix.capnp`;

function capnpConvert(direction: 'binary:json' | 'json:binary', root: string, input: Buffer | string): Buffer {
  return execFileSync('capnp', ['convert', direction, SCHEMA, root], { input });
}

/** The message as the schema names it, in capnp's JSON encoding (64-bit integers as strings). */
function schemaJson(m: ServerMessage | ClientMessage): unknown {
  switch (m.kind) {
    case 'work':
      return { work: { id: String(m.id), attrPath: m.attrPath } };
    case 'status':
      return { status: { id: String(m.id), state: m.restart ? 'restart' : 'ready' } };
    case 'event':
      return { event: { id: String(m.id), event: eventJson(m.event) } };
    default:
      throw new Error(`not an item message: ${m.kind}`);
  }
}

function eventJson(r: WorkResult): unknown {
  if ('skip' in r) return { attrPath: r.attrPath, skip: null };
  if ('error' in r) return { attrPath: r.attrPath, attr: r.attr, error: r.error };
  if ('attrs' in r) return { attrPath: r.attrPath, attr: r.attr, attrset: r.attrs };
  return {
    attrPath: r.attrPath,
    attr: r.attr,
    derivation: {
      name: r.name,
      system: r.system,
      drvPath: r.drvPath,
      outputs: Object.entries(r.outputs).map(([key, value]) => ({ key, value })),
      metaJson: r.meta === undefined ? '' : JSON.stringify(r.meta),
      inputDrvs: Object.entries(r.inputDrvs ?? {}).map(([drvPath, outputs]) => ({ drvPath, outputs })),
      hasInputDrvs: r.inputDrvs !== undefined,
      constituents: r.constituents ?? [],
      namedConstituents: r.namedConstituents ?? [],
      isAggregate: r.constituents !== undefined || r.namedConstituents !== undefined,
      requiredSystemFeatures: r.requiredSystemFeatures,
      extraValueJson: 'extraValue' in r ? JSON.stringify(r.extraValue ?? null) : '',
      globConstituents: r.globConstituents ?? false,
    },
  };
}

/** capnp's JSON leaves out unset pointers and false bits: compare without defaults on both sides. */
function withoutDefaults(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(withoutDefaults);
  if (value === null || typeof value !== 'object') return value;
  const kept = Object.entries(value).filter(([, v]) => v !== '' && v !== false && !(Array.isArray(v) && v.length === 0));
  return Object.fromEntries(kept.map(([k, v]) => [k, withoutDefaults(v)]));
}

test('the reference implementation reads what we write, field by field', () => {
  for (const m of ITEM_ANSWERS) {
    const json = JSON.parse(capnpConvert('binary:json', 'ServerMessage', encodeServer(m)).toString()) as unknown;
    expect(withoutDefaults(json)).toEqual(withoutDefaults(schemaJson(m)));
  }
  for (const m of WORKS) {
    const json = JSON.parse(capnpConvert('binary:json', 'ClientMessage', encodeClient(m)).toString()) as unknown;
    expect(withoutDefaults(json)).toEqual(withoutDefaults(schemaJson(m)));
  }
});

test('we read what the reference implementation writes, on the fast path', () => {
  for (const m of ITEM_ANSWERS) {
    const bytes = capnpConvert('json:binary', 'ServerMessage', JSON.stringify(schemaJson(m)));
    expect(readItemAnswer(bytes)).toEqual(m);
    expect(decodeServer(bytes)).toEqual(m);
  }
  for (const m of WORKS) {
    const bytes = capnpConvert('json:binary', 'ClientMessage', JSON.stringify(schemaJson(m)));
    expect(readWork(bytes)).toBeDefined();
    expect(decodeClient(bytes)).toEqual(m);
  }
});
