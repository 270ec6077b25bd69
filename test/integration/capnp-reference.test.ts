/**
 * The per-chunk messages against the reference Cap'n Proto implementation
 * (Debian's `capnp` tool): what we write, it reads with the right field
 * names and values; what it writes from the schema, we read back, on the
 * fast path when it writes one segment. This checks the field offsets in
 * src/protocol/item-messages.ts against schema/evix.capnp itself, not
 * against our own reader.
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
      return {
        work: {
          id: String(m.id),
          units: m.chunk.map((u) => {
            if (u.kind === 'siblings') return { siblings: { parent: u.parent, from: u.from, names: u.names } };
            if (u.kind === 'part') return { part: { path: u.path, part: u.part, parts: u.parts } };
            return { path: u.path };
          }),
          budget: m.budget,
        },
      };
    case 'status':
      return { status: { id: String(m.id), state: m.restart ? 'restart' : 'ready' } };
    case 'event':
      return { event: { id: String(m.id), events: m.events.map(eventJson) } };
    default:
      throw new Error(`not an item message: ${m.kind}`);
  }
}

function eventJson(r: WorkResult): unknown {
  if ('skip' in r) return { attrPath: r.attrPath, skip: null };
  if ('error' in r) return { attrPath: r.attrPath, attr: r.attr, error: r.error };
  if ('attrs' in r) return { attrPath: r.attrPath, attr: r.attr, attrset: r.attrs, childrenAnswered: r.childrenAnswered ?? false };
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

/** The reference writes a large message in several segments: outside the fast path, for capnp-es. */
const segments = (frame: Buffer): number => frame.readUInt32LE(0) + 1;

test('we read what the reference implementation writes, on the fast path when it is one segment', () => {
  const counts: number[] = [];
  for (const m of ITEM_ANSWERS) {
    const bytes = capnpConvert('json:binary', 'ServerMessage', JSON.stringify(schemaJson(m)));
    counts.push(segments(bytes));
    expect(readItemAnswer(bytes)).toEqual(segments(bytes) === 1 ? m : undefined);
    expect(decodeServer(bytes)).toEqual(m);
  }
  for (const m of WORKS) {
    const bytes = capnpConvert('json:binary', 'ClientMessage', JSON.stringify(schemaJson(m)));
    counts.push(segments(bytes));
    const { kind: _kind, ...work } = m as Extract<ClientMessage, { kind: 'work' }>;
    expect(readWork(bytes)).toEqual(segments(bytes) === 1 ? work : undefined);
    expect(decodeClient(bytes)).toEqual(m);
  }
  // Both kinds of frame were met.
  expect(counts).toContain(1);
  expect(counts.some((n) => n > 1)).toBe(true);
});
