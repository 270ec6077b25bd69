/**
 * The three messages every item sends (Work, WorkEvent, WorkStatus of
 * schema/evix.capnp), written and read directly as Cap'n Proto bytes by
 * capnp-segment.ts.
 *
 * Why not capnp-es here: it builds an arena and a tree of pointer objects per
 * message and its lists are Proxies; that cost 20 to 40 µs a message, which
 * made a remote worker on loopback about 1.8x slower than a local one on
 * small attributes. These functions cost a few µs. capnp-es still handles
 * every other message, and every frame these functions do not take (the
 * readers return undefined for anything outside the canonical subset), so
 * the wire stays plain Cap'n Proto of the one schema.
 */
import type { ObjectSize } from 'capnp-es';
import type { DerivationEvent, WorkResult } from '../events.js';
import { pointerWord, readCanonical, SegmentWriter, structWords, textsWords, textWords, type SegmentReader, type StructRef, type StructSize } from './capnp-segment.js';
import {
  ClientMessage,
  ClientMessage_Which,
  Derivation,
  Entry,
  Event,
  Event_Which,
  InputDrv,
  ServerMessage,
  ServerMessage_Which,
  Work,
  WorkEvent,
  WorkStatus,
  WorkStatus_State,
} from './generated/evix.js';

/** A struct's size as the generated code declares it (data sections are whole words). */
const sizeOf = ({ _capnp: { size } }: { readonly _capnp: { readonly size: ObjectSize } }): StructSize => ({
  dataWords: size.dataByteLength / 8,
  pointerWords: size.pointerLength,
});

/**
 * Where each field of the item messages sits, per struct of the generated
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
  Work: { size: sizeOf(Work), uint64: { id: 0 }, pointers: { attrPath: 0 } },
  WorkEvent: { size: sizeOf(WorkEvent), uint64: { id: 0 }, pointers: { event: 0 } },
  WorkStatus: { size: sizeOf(WorkStatus), uint64: { id: 0 }, uint16: { state: 8 } },
  Event: { size: sizeOf(Event), uint16: { which: 0 }, pointers: { attrPath: 0, derivation: 1, attrset: 1, error: 1, attr: 2 } },
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

export function encodeWork(id: number, attrPath: readonly string[]): Buffer {
  const { ClientMessage: root, Work: work } = LAYOUT;
  const { w, body } = startMessage(root, ClientMessage_Which.WORK, root.pointers.work, work.size, textsWords(attrPath));
  w.uint64(body, work.uint64.id, id);
  w.texts(pointerWord(body, work.size, work.pointers.attrPath), attrPath);
  return w.finish();
}

export function encodeStatus(id: number, restart: boolean): Buffer {
  const { ServerMessage: root, WorkStatus: status } = LAYOUT;
  const { w, body } = startMessage(root, ServerMessage_Which.STATUS, root.pointers.status, status.size, 0);
  w.uint64(body, status.uint64.id, id);
  if (restart) w.uint16(body, status.uint16.state, WorkStatus_State.RESTART);
  return w.finish();
}

export function encodeEvent(id: number, result: WorkResult): Buffer {
  const { ServerMessage: root, WorkEvent: workEvent, Event: event } = LAYOUT;
  const json = 'drvPath' in result ? jsonFields(result) : undefined;
  const eventWords = structWords(event.size) + textsWords(result.attrPath) + resultWords(result, json);
  const { w, body } = startMessage(root, ServerMessage_Which.EVENT, root.pointers.event, workEvent.size, eventWords);
  w.uint64(body, workEvent.uint64.id, id);
  const e = w.struct(pointerWord(body, workEvent.size, workEvent.pointers.event), event.size);
  w.texts(pointerWord(e, event.size, event.pointers.attrPath), result.attrPath);
  if ('skip' in result) {
    w.uint16(e, event.uint16.which, Event_Which.SKIP);
    return w.finish();
  }
  w.text(pointerWord(e, event.size, event.pointers.attr), result.attr);
  if ('error' in result) {
    w.uint16(e, event.uint16.which, Event_Which.ERROR);
    w.text(pointerWord(e, event.size, event.pointers.error), result.error);
  } else if ('attrs' in result) {
    w.uint16(e, event.uint16.which, Event_Which.ATTRSET);
    w.texts(pointerWord(e, event.size, event.pointers.attrset), result.attrs);
  } else {
    w.uint16(e, event.uint16.which, Event_Which.DERIVATION);
    writeDerivation(w, w.struct(pointerWord(e, event.size, event.pointers.derivation), LAYOUT.Derivation.size), result, json!);
  }
  return w.finish();
}

/** meta and extraValue cross the wire as JSON text (empty: absent). */
function jsonFields(d: DerivationEvent): { meta: string; extraValue: string } {
  return {
    meta: d.meta === undefined ? '' : JSON.stringify(d.meta),
    extraValue: 'extraValue' in d ? JSON.stringify(d.extraValue ?? null) : '',
  };
}

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
export function readWork(frame: Buffer): { id: number; attrPath: string[] } | undefined {
  return readCanonical(frame, (r, root) => {
    const { ClientMessage: client, Work: work } = LAYOUT;
    if (r.uint16(root, client.uint16.which) !== ClientMessage_Which.WORK) return undefined;
    const body = r.struct(r.pointer(root, client.pointers.work));
    return { id: r.uint64(body, work.uint64.id), attrPath: r.texts(r.pointer(body, work.pointers.attrPath)) };
  });
}

/** An Event or Status frame, or undefined for any other or non-canonical frame. */
export function readItemAnswer(frame: Buffer): { kind: 'event'; id: number; event: WorkResult } | { kind: 'status'; id: number; restart: boolean } | undefined {
  return readCanonical(frame, (r, root) => {
    const { ServerMessage: server, WorkEvent: workEvent, WorkStatus: status } = LAYOUT;
    switch (r.uint16(root, server.uint16.which)) {
      case ServerMessage_Which.STATUS: {
        const body = r.struct(r.pointer(root, server.pointers.status));
        return { kind: 'status', id: r.uint64(body, status.uint64.id), restart: r.uint16(body, status.uint16.state) === WorkStatus_State.RESTART };
      }
      case ServerMessage_Which.EVENT: {
        const body = r.struct(r.pointer(root, server.pointers.event));
        const event = readEvent(r, r.struct(r.pointer(body, workEvent.pointers.event)));
        return event && { kind: 'event', id: r.uint64(body, workEvent.uint64.id), event };
      }
      default:
        return undefined;
    }
  });
}

function readEvent(r: SegmentReader, e: StructRef): WorkResult | undefined {
  const { pointers, uint16 } = LAYOUT.Event;
  const attrPath = r.texts(r.pointer(e, pointers.attrPath));
  const which = r.uint16(e, uint16.which);
  if (which === Event_Which.SKIP) return { skip: true, attrPath };
  const attr = r.text(r.pointer(e, pointers.attr));
  switch (which) {
    case Event_Which.ERROR:
      return { attr, attrPath, error: r.text(r.pointer(e, pointers.error)), fatal: false };
    case Event_Which.ATTRSET:
      return { attr, attrPath, attrs: r.texts(r.pointer(e, pointers.attrset)) };
    case Event_Which.DERIVATION:
      return readDerivation(r, r.struct(r.pointer(e, pointers.derivation)), attr, attrPath);
    default:
      return undefined;
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
