/**
 * The three messages every chunk sends (Work, WorkEvent, WorkStatus of
 * schema/evix.capnp), written and read directly as Cap'n Proto bytes by
 * capnp-segment.ts.
 *
 * Why not capnp-es here: it builds an arena and a tree of pointer objects per
 * message and its lists are Proxies; that cost 20 to 40 µs a message, which
 * made a remote worker on loopback about 1.8x slower than a local one on
 * small attributes, and a chunk's answer holds an event per attribute. These
 * functions cost a few µs a message. capnp-es still handles every other
 * message, and every frame these functions do not take (the readers return
 * undefined for anything outside the canonical subset), so the wire stays
 * plain Cap'n Proto of the one schema.
 */
import type { ObjectSize } from 'capnp-es';
import type { AttrsetResult, DerivationEvent, WorkResult } from '../events.js';
import type { WorkChunk, WorkUnit } from '../work.js';
import { decline, pointerWord, readCanonical, SegmentWriter, structWords, textsWords, textWords, type SegmentReader, type StructRef, type StructSize } from './capnp-segment.js';
import {
  ClientMessage,
  ClientMessage_Which,
  Derivation,
  Entry,
  Event,
  Event_Which,
  InputDrv,
  Part,
  ServerMessage,
  ServerMessage_Which,
  Siblings,
  Work,
  WorkEvent,
  WorkStatus,
  WorkStatus_State,
  WorkUnit as WorkUnitStruct,
  WorkUnit_Which,
} from './generated/evix.js';

/** A struct's size as the generated code declares it (data sections are whole words). */
const sizeOf = ({ _capnp: { size } }: { readonly _capnp: { readonly size: ObjectSize } }): StructSize => ({
  dataWords: size.dataByteLength / 8,
  pointerWords: size.pointerLength,
});

/**
 * Where each field of the per-chunk messages sits, per struct of the generated
 * module. Sizes come from that module; offsets appear there only as arguments
 * inside getters (`utils.getUint64(0, this)`, `utils.getBit(2, this)`,
 * `utils.getPointer(1, this)`), so they are listed here in the same units
 * (bytes, bits, pointer slots), and test/unit/item-messages.test.ts (the
 * reason this is exported) checks every one against those getters. `which`
 * is a union's discriminant. test/integration/capnp-reference.test.ts checks
 * the bytes against the reference `capnp` tool as well.
 */
export const LAYOUT = {
  ServerMessage: { size: sizeOf(ServerMessage), uint16: { which: 0 }, pointers: { event: 0, status: 0 } },
  ClientMessage: { size: sizeOf(ClientMessage), uint16: { which: 0 }, pointers: { work: 0 } },
  Work: { size: sizeOf(Work), uint64: { id: 0 }, uint32: { budget: 8 }, pointers: { units: 0 } },
  WorkUnit: { size: sizeOf(WorkUnitStruct), uint16: { which: 0 }, pointers: { path: 0, siblings: 0, part: 0 } },
  Siblings: { size: sizeOf(Siblings), uint32: { from: 0 }, pointers: { parent: 0, names: 1 } },
  Part: { size: sizeOf(Part), uint32: { part: 0, parts: 4 }, pointers: { path: 0 } },
  WorkEvent: { size: sizeOf(WorkEvent), uint64: { id: 0 }, pointers: { events: 0 } },
  WorkStatus: { size: sizeOf(WorkStatus), uint64: { id: 0 }, uint16: { state: 8 } },
  Event: {
    size: sizeOf(Event),
    uint16: { which: 0 },
    bits: { childrenAnswered: 16 },
    pointers: { attrPath: 0, derivation: 1, attrset: 1, error: 1, attr: 2 },
  },
  Derivation: {
    size: sizeOf(Derivation),
    bits: { hasInputDrvs: 0, isAggregate: 1, globConstituents: 2 },
    pointers: {
      name: 0,
      system: 1,
      drvPath: 2,
      outputs: 3,
      metaJson: 4,
      inputDrvs: 5,
      constituents: 6,
      namedConstituents: 7,
      requiredSystemFeatures: 8,
      extraValueJson: 9,
    },
  },
  Entry: { size: sizeOf(Entry), pointers: { key: 0, value: 1 } },
  InputDrv: { size: sizeOf(InputDrv), pointers: { drvPath: 0, outputs: 1 } },
} as const;

// --- writing -----------------------------------------------------------------

/**
 * A message whose root (ServerMessage or ClientMessage) holds the union
 * member `which`, a struct of `body` in pointer `slot`: its writer and the
 * body's first word. `bodyWords` bounds what the body points to.
 */
function startMessage(
  root: typeof LAYOUT.ServerMessage | typeof LAYOUT.ClientMessage,
  which: number,
  slot: number,
  body: StructSize,
  bodyWords: number,
): { w: SegmentWriter; body: number } {
  const w = new SegmentWriter(root.size, structWords(body) + bodyWords);
  w.uint16(w.root, root.uint16.which, which);
  return { w, body: w.struct(pointerWord(w.root, root.size, slot), body) };
}

/** Words a list of structs of `size` takes (its tag word and elements), with `pointed` words behind the elements. */
const structsWords = (count: number, size: StructSize, pointed: number): number => 1 + count * structWords(size) + pointed;

export function encodeWork(id: number, chunk: WorkChunk, budget: number): Buffer {
  const { ClientMessage: root, Work: work, WorkUnit: unit, Siblings: siblings, Part: part } = LAYOUT;
  const unitsWords = structsWords(chunk.length, unit.size, chunk.reduce((n, u) => n + unitWords(u), 0));
  const { w, body } = startMessage(root, ClientMessage_Which.WORK, root.pointers.work, work.size, unitsWords);
  w.uint64(body, work.uint64.id, id);
  w.uint32(body, work.uint32.budget, budget);
  w.structs(pointerWord(body, work.size, work.pointers.units), chunk.length, unit.size).forEach((u, i) => {
    const c = chunk[i]!;
    if (c.kind === 'part') {
      w.uint16(u, unit.uint16.which, WorkUnit_Which.PART);
      const p = w.struct(pointerWord(u, unit.size, unit.pointers.part), part.size);
      w.texts(pointerWord(p, part.size, part.pointers.path), c.path);
      w.uint32(p, part.uint32.part, c.part);
      w.uint32(p, part.uint32.parts, c.parts);
      return;
    }
    if (c.kind === 'path') {
      w.uint16(u, unit.uint16.which, WorkUnit_Which.PATH);
      w.texts(pointerWord(u, unit.size, unit.pointers.path), c.path);
      return;
    }
    w.uint16(u, unit.uint16.which, WorkUnit_Which.SIBLINGS);
    const s = w.struct(pointerWord(u, unit.size, unit.pointers.siblings), siblings.size);
    w.texts(pointerWord(s, siblings.size, siblings.pointers.parent), c.parent);
    w.uint32(s, siblings.uint32.from, c.from);
    w.texts(pointerWord(s, siblings.size, siblings.pointers.names), c.names);
  });
  return w.finish();
}

/** Words a unit points to (its struct is counted with the list). */
function unitWords(u: WorkUnit): number {
  if (u.kind === 'path') return textsWords(u.path);
  if (u.kind === 'part') return structWords(LAYOUT.Part.size) + textsWords(u.path);
  return structWords(LAYOUT.Siblings.size) + textsWords(u.parent) + textsWords(u.names);
}

export function encodeStatus(id: number, restart: boolean): Buffer {
  const { ServerMessage: root, WorkStatus: status } = LAYOUT;
  const { w, body } = startMessage(root, ServerMessage_Which.STATUS, root.pointers.status, status.size, 0);
  w.uint64(body, status.uint64.id, id);
  if (restart) w.uint16(body, status.uint16.state, WorkStatus_State.RESTART);
  return w.finish();
}

/** The WorkEvent answering Work `id`: the results of its chunk, in order. */
export function encodeEvent(id: number, results: readonly WorkResult[]): Buffer {
  const { ServerMessage: root, WorkEvent: workEvent, Event: event } = LAYOUT;
  const json = results.map((r) => ('drvPath' in r ? jsonFields(r) : undefined));
  const eventsWords = structsWords(results.length, event.size, results.reduce((n, r, i) => n + textsWords(r.attrPath) + resultWords(r, json[i]), 0));
  const { w, body } = startMessage(root, ServerMessage_Which.EVENT, root.pointers.event, workEvent.size, eventsWords);
  w.uint64(body, workEvent.uint64.id, id);
  w.structs(pointerWord(body, workEvent.size, workEvent.pointers.events), results.length, event.size).forEach((e, i) => writeEvent(w, e, results[i]!, json[i]));
  return w.finish();
}

function writeEvent(w: SegmentWriter, e: number, result: WorkResult, json: { meta: string; extraValue: string } | undefined): void {
  const { Event: event } = LAYOUT;
  w.texts(pointerWord(e, event.size, event.pointers.attrPath), result.attrPath);
  if ('skip' in result) {
    w.uint16(e, event.uint16.which, Event_Which.SKIP);
    return;
  }
  w.text(pointerWord(e, event.size, event.pointers.attr), result.attr);
  if ('error' in result) {
    w.uint16(e, event.uint16.which, Event_Which.ERROR);
    w.text(pointerWord(e, event.size, event.pointers.error), result.error);
  } else if ('attrs' in result) {
    w.uint16(e, event.uint16.which, Event_Which.ATTRSET);
    w.texts(pointerWord(e, event.size, event.pointers.attrset), result.attrs);
    if (result.childrenAnswered) w.bit(e, event.bits.childrenAnswered);
  } else {
    w.uint16(e, event.uint16.which, Event_Which.DERIVATION);
    writeDerivation(w, w.struct(pointerWord(e, event.size, event.pointers.derivation), LAYOUT.Derivation.size), result, json!);
  }
}

/** meta and extraValue cross the wire as JSON text (empty: absent). */
function jsonFields(d: DerivationEvent): { meta: string; extraValue: string } {
  return {
    meta: d.meta === undefined ? '' : JSON.stringify(d.meta),
    extraValue: 'extraValue' in d ? JSON.stringify(d.extraValue ?? null) : '',
  };
}

/** Words an event points to beyond its attrPath. */
function resultWords(r: WorkResult, json: { meta: string; extraValue: string } | undefined): number {
  if ('skip' in r) return 0;
  if ('error' in r) return textWords(r.attr) + textWords(r.error);
  if ('attrs' in r) return textWords(r.attr) + textsWords(r.attrs);
  const outputs = Object.entries(r.outputs);
  const inputs = Object.entries(r.inputDrvs ?? {});
  const entryWords = structWords(LAYOUT.Entry.size);
  const inputDrvWords = structWords(LAYOUT.InputDrv.size);
  return (
    structWords(LAYOUT.Derivation.size) +
    [r.attr, r.name, r.system, r.drvPath, json!.meta, json!.extraValue].reduce((n, v) => n + textWords(v), 0) +
    1 + outputs.reduce((n, [k, v]) => n + entryWords + textWords(k) + textWords(v), 0) +
    1 + inputs.reduce((n, [k, v]) => n + inputDrvWords + textWords(k) + textsWords(v), 0) +
    textsWords(r.constituents) +
    textsWords(r.namedConstituents) +
    textsWords(r.requiredSystemFeatures)
  );
}

function writeDerivation(w: SegmentWriter, d: number, r: DerivationEvent, json: { meta: string; extraValue: string }): void {
  const { Derivation: { size, pointers, bits }, Entry: entry, InputDrv: inputDrv } = LAYOUT;
  w.text(pointerWord(d, size, pointers.name), r.name);
  w.text(pointerWord(d, size, pointers.system), r.system);
  w.text(pointerWord(d, size, pointers.drvPath), r.drvPath);
  const outputs = Object.entries(r.outputs);
  w.structs(pointerWord(d, size, pointers.outputs), outputs.length, entry.size).forEach((e, i) => {
    w.text(pointerWord(e, entry.size, entry.pointers.key), outputs[i]![0]);
    w.text(pointerWord(e, entry.size, entry.pointers.value), outputs[i]![1]);
  });
  w.text(pointerWord(d, size, pointers.metaJson), json.meta);
  if (r.inputDrvs !== undefined) {
    w.bit(d, bits.hasInputDrvs);
    const inputs = Object.entries(r.inputDrvs);
    w.structs(pointerWord(d, size, pointers.inputDrvs), inputs.length, inputDrv.size).forEach((input, i) => {
      w.text(pointerWord(input, inputDrv.size, inputDrv.pointers.drvPath), inputs[i]![0]);
      w.texts(pointerWord(input, inputDrv.size, inputDrv.pointers.outputs), inputs[i]![1]);
    });
  }
  if (r.constituents !== undefined || r.namedConstituents !== undefined) {
    w.bit(d, bits.isAggregate);
    w.texts(pointerWord(d, size, pointers.constituents), r.constituents ?? []);
    w.texts(pointerWord(d, size, pointers.namedConstituents), r.namedConstituents ?? []);
    if (r.globConstituents) w.bit(d, bits.globConstituents);
  }
  w.texts(pointerWord(d, size, pointers.requiredSystemFeatures), r.requiredSystemFeatures);
  w.text(pointerWord(d, size, pointers.extraValueJson), json.extraValue);
}

// --- reading -----------------------------------------------------------------

/** A Work frame, or undefined for any other or non-canonical frame. */
export function readWork(frame: Buffer): { id: number; chunk: WorkUnit[]; budget: number } | undefined {
  return readCanonical(frame, (r, root) => {
    const { ClientMessage: client, Work: work } = LAYOUT;
    if (r.uint16(root, client.uint16.which) !== ClientMessage_Which.WORK) return undefined;
    const body = r.struct(r.pointer(root, client.pointers.work));
    return {
      id: r.uint64(body, work.uint64.id),
      chunk: r.structs(r.pointer(body, work.pointers.units)).map((u) => readUnit(r, u)),
      budget: r.uint32(body, work.uint32.budget),
    };
  });
}

function readUnit(r: SegmentReader, u: StructRef): WorkUnit {
  const { WorkUnit: unit, Siblings: siblings, Part: part } = LAYOUT;
  switch (r.uint16(u, unit.uint16.which)) {
    case WorkUnit_Which.PATH:
      return { kind: 'path', path: r.texts(r.pointer(u, unit.pointers.path)) };
    case WorkUnit_Which.SIBLINGS: {
      const s = r.struct(r.pointer(u, unit.pointers.siblings));
      return {
        kind: 'siblings',
        parent: r.texts(r.pointer(s, siblings.pointers.parent)),
        from: r.uint32(s, siblings.uint32.from),
        names: r.texts(r.pointer(s, siblings.pointers.names)),
      };
    }
    case WorkUnit_Which.PART: {
      const p = r.struct(r.pointer(u, unit.pointers.part));
      return { kind: 'part', path: r.texts(r.pointer(p, part.pointers.path)), part: r.uint32(p, part.uint32.part), parts: r.uint32(p, part.uint32.parts) };
    }
    default:
      return decline();
  }
}

/** An Event or Status frame, or undefined for any other or non-canonical frame. */
export function readItemAnswer(frame: Buffer): { kind: 'event'; id: number; events: WorkResult[] } | { kind: 'status'; id: number; restart: boolean } | undefined {
  return readCanonical(frame, (r, root) => {
    const { ServerMessage: server, WorkEvent: workEvent, WorkStatus: status } = LAYOUT;
    switch (r.uint16(root, server.uint16.which)) {
      case ServerMessage_Which.STATUS: {
        const body = r.struct(r.pointer(root, server.pointers.status));
        return { kind: 'status', id: r.uint64(body, status.uint64.id), restart: r.uint16(body, status.uint16.state) === WorkStatus_State.RESTART };
      }
      case ServerMessage_Which.EVENT: {
        const body = r.struct(r.pointer(root, server.pointers.event));
        return { kind: 'event', id: r.uint64(body, workEvent.uint64.id), events: r.structs(r.pointer(body, workEvent.pointers.events)).map((e) => readEvent(r, e)) };
      }
      default:
        return undefined;
    }
  });
}

function readEvent(r: SegmentReader, e: StructRef): WorkResult {
  const { pointers, uint16, bits } = LAYOUT.Event;
  const attrPath = r.texts(r.pointer(e, pointers.attrPath));
  const which = r.uint16(e, uint16.which);
  if (which === Event_Which.SKIP) return { skip: true, attrPath };
  const attr = r.text(r.pointer(e, pointers.attr));
  switch (which) {
    case Event_Which.ERROR:
      return { attr, attrPath, error: r.text(r.pointer(e, pointers.error)), fatal: false };
    case Event_Which.ATTRSET: {
      const set: AttrsetResult = { attr, attrPath, attrs: r.texts(r.pointer(e, pointers.attrset)) };
      if (r.bit(e, bits.childrenAnswered)) set.childrenAnswered = true;
      return set;
    }
    case Event_Which.DERIVATION:
      return readDerivation(r, r.struct(r.pointer(e, pointers.derivation)), attr, attrPath);
    default:
      return decline();
  }
}
function readDerivation(r: SegmentReader, d: StructRef, attr: string, attrPath: string[]): DerivationEvent {
  const { Derivation: { pointers, bits }, Entry: entry, InputDrv: inputDrv } = LAYOUT;
  const event: DerivationEvent = {
    attr,
    attrPath,
    name: r.text(r.pointer(d, pointers.name)),
    system: r.text(r.pointer(d, pointers.system)),
    drvPath: r.text(r.pointer(d, pointers.drvPath)),
    outputs: Object.fromEntries(r.structs(r.pointer(d, pointers.outputs)).map((o) => [r.text(r.pointer(o, entry.pointers.key)), r.text(r.pointer(o, entry.pointers.value))])),
    requiredSystemFeatures: r.texts(r.pointer(d, pointers.requiredSystemFeatures)),
  };
  const meta = r.text(r.pointer(d, pointers.metaJson));
  if (meta !== '') event.meta = JSON.parse(meta) as Record<string, unknown>;
  const extraValue = r.text(r.pointer(d, pointers.extraValueJson));
  if (extraValue !== '') event.extraValue = JSON.parse(extraValue) as unknown;
  if (r.bit(d, bits.hasInputDrvs)) {
    event.inputDrvs = Object.fromEntries(r.structs(r.pointer(d, pointers.inputDrvs)).map((i) => [r.text(r.pointer(i, inputDrv.pointers.drvPath)), r.texts(r.pointer(i, inputDrv.pointers.outputs))]));
  }
  if (r.bit(d, bits.isAggregate)) {
    event.constituents = r.texts(r.pointer(d, pointers.constituents));
    event.namedConstituents = r.texts(r.pointer(d, pointers.namedConstituents));
    event.globConstituents = r.bit(d, bits.globConstituents);
  }
  return event;
}
