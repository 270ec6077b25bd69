/**
 * Messages of schema/evix.capnp to and from plain objects. Each message is
 * one framed Cap'n Proto message; decoding a frame that is not a valid
 * message of the expected kind throws ProtocolError. Reads are bounded by
 * capnp-es' nesting limit and by a traversal limit tied to the frame size.
 */
import * as capnp from 'capnp-es';
import type { AutoArg, ResolvedInput, WorkerConfig } from '../config.js';
import type { DerivationEvent, WorkResult } from '../events.js';
import * as schema from './generated/evix.js';

/** Raised whenever schema/evix.capnp changes in a way an older peer cannot read. */
export const PROTOCOL_VERSION = 1;

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

export type ClientMessage =
  | { kind: 'setup'; protocolVersion: number; nonce: Uint8Array; mac: Uint8Array; config: Uint8Array }
  | { kind: 'work'; id: number; attrPath: string[] }
  | { kind: 'shutdown' }
  | { kind: 'ping'; id: number };

export type ServerMessage =
  | { kind: 'hello'; protocolVersion: number; nonce: Uint8Array }
  | { kind: 'ready'; proof: Uint8Array }
  | { kind: 'event'; id: number; event: WorkResult }
  | { kind: 'status'; id: number; restart: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'pong'; id: number };

/** The config as it crosses the wire: everything but the master's working directory. */
export type WireConfig = Omit<WorkerConfig, 'workdir' | 'overrideInputs'>;

function frame(message: capnp.Message): Buffer {
  return Buffer.from(message.toArrayBuffer());
}

function read<T extends capnp.Struct>(bytes: Uint8Array, root: capnp.StructCtor<T>): T {
  try {
    const message = new capnp.Message(bytes, false);
    // capnp-es charges 8 for every pointer followed, again on each read of a
    // field; this bounds what a pointer cycle or an amplification attack can
    // make us read to a fixed multiple of the (already bounded) frame.
    message._capnp.traversalLimit = Math.max(1 << 20, bytes.length * 64);
    return message.getRoot(root);
  } catch (error) {
    throw new ProtocolError(`malformed message: ${(error as Error).message}`);
  }
}

/** Runs a decoder, turning capnp-es' errors on bad pointers into ProtocolError. */
function decoding<T>(what: string, decode: () => T): T {
  try {
    return decode();
  } catch (error) {
    if (error instanceof ProtocolError) throw error;
    throw new ProtocolError(`malformed ${what}: ${(error as Error).message}`);
  }
}

function setTexts(list: capnp.List<string>, values: readonly string[]): void {
  values.forEach((v, i) => list.set(i, v));
}

function setData(init: (n: number) => capnp.Data, bytes: Uint8Array): void {
  init(bytes.length).copyBuffer(bytes);
}

const toId = (id: bigint): number => Number(id);

// --- client messages ---------------------------------------------------------

export function encodeClient(m: ClientMessage): Buffer {
  const message = new capnp.Message();
  const root = message.initRoot(schema.ClientMessage);
  switch (m.kind) {
    case 'setup': {
      const setup = root._initSetup();
      setup.protocolVersion = m.protocolVersion;
      setData((n) => setup._initNonce(n), m.nonce);
      setData((n) => setup._initMac(n), m.mac);
      setData((n) => setup._initConfig(n), m.config);
      break;
    }
    case 'work': {
      const work = root._initWork();
      work.id = BigInt(m.id);
      setTexts(work._initAttrPath(m.attrPath.length), m.attrPath);
      break;
    }
    case 'shutdown':
      root.shutdown = true;
      break;
    case 'ping':
      root.ping = BigInt(m.id);
      break;
  }
  return frame(message);
}

export function decodeClient(bytes: Uint8Array): ClientMessage {
  const root = read(bytes, schema.ClientMessage);
  return decoding('client message', (): ClientMessage => {
    switch (root.which()) {
      case schema.ClientMessage.SETUP: {
        const s = root.setup;
        return { kind: 'setup', protocolVersion: s.protocolVersion, nonce: s.nonce.toUint8Array(), mac: s.mac.toUint8Array(), config: s.config.toUint8Array() };
      }
      case schema.ClientMessage.WORK:
        return { kind: 'work', id: toId(root.work.id), attrPath: root.work.attrPath.toArray() };
      case schema.ClientMessage.SHUTDOWN:
        return { kind: 'shutdown' };
      case schema.ClientMessage.PING:
        return { kind: 'ping', id: toId(root.ping) };
      default:
        throw new ProtocolError('unknown client message');
    }
  });
}

// --- server messages ---------------------------------------------------------

export function encodeServer(m: ServerMessage): Buffer {
  const message = new capnp.Message();
  const root = message.initRoot(schema.ServerMessage);
  switch (m.kind) {
    case 'hello': {
      const hello = root._initHello();
      hello.protocolVersion = m.protocolVersion;
      setData((n) => hello._initNonce(n), m.nonce);
      break;
    }
    case 'ready':
      setData((n) => root._initReady()._initProof(n), m.proof);
      break;
    case 'event': {
      const event = root._initEvent();
      event.id = BigInt(m.id);
      writeEvent(event._initEvent(), m.event);
      break;
    }
    case 'status': {
      const status = root._initStatus();
      status.id = BigInt(m.id);
      status.state = m.restart ? schema.WorkStatus_State.RESTART : schema.WorkStatus_State.READY;
      break;
    }
    case 'error':
      root.error = m.message;
      break;
    case 'pong':
      root.pong = BigInt(m.id);
      break;
  }
  return frame(message);
}

export function decodeServer(bytes: Uint8Array): ServerMessage {
  const root = read(bytes, schema.ServerMessage);
  return decoding('server message', (): ServerMessage => {
    switch (root.which()) {
      case schema.ServerMessage.HELLO:
        return { kind: 'hello', protocolVersion: root.hello.protocolVersion, nonce: root.hello.nonce.toUint8Array() };
      case schema.ServerMessage.READY:
        return { kind: 'ready', proof: root.ready.proof.toUint8Array() };
      case schema.ServerMessage.EVENT:
        return { kind: 'event', id: toId(root.event.id), event: readEvent(root.event.event) };
      case schema.ServerMessage.STATUS:
        return { kind: 'status', id: toId(root.status.id), restart: root.status.state === schema.WorkStatus_State.RESTART };
      case schema.ServerMessage.ERROR:
        return { kind: 'error', message: root.error };
      case schema.ServerMessage.PONG:
        return { kind: 'pong', id: toId(root.pong) };
      default:
        throw new ProtocolError('unknown server message');
    }
  });
}

function writeEvent(e: schema.Event, r: WorkResult): void {
  setTexts(e._initAttrPath(r.attrPath.length), r.attrPath);
  if ('skip' in r) {
    e.skip = true;
    return;
  }
  e.attr = r.attr;
  if ('error' in r) e.error = r.error;
  else if ('attrs' in r) setTexts(e._initAttrset(r.attrs.length), r.attrs);
  else writeDerivation(e._initDerivation(), r);
}

function writeDerivation(d: schema.Derivation, r: DerivationEvent): void {
  d.name = r.name;
  d.system = r.system;
  d.drvPath = r.drvPath;
  const outputs = Object.entries(r.outputs);
  const list = d._initOutputs(outputs.length);
  outputs.forEach(([key, value], i) => {
    list.get(i).key = key;
    list.get(i).value = value;
  });
  setTexts(d._initRequiredSystemFeatures(r.requiredSystemFeatures.length), r.requiredSystemFeatures);
  if (r.meta !== undefined) d.metaJson = JSON.stringify(r.meta);
  if ('extraValue' in r) d.extraValueJson = JSON.stringify(r.extraValue ?? null);
  if (r.inputDrvs !== undefined) {
    d.hasInputDrvs = true;
    const inputs = Object.entries(r.inputDrvs);
    const l = d._initInputDrvs(inputs.length);
    inputs.forEach(([drvPath, outs], i) => {
      l.get(i).drvPath = drvPath;
      setTexts(l.get(i)._initOutputs(outs.length), outs);
    });
  }
  if (r.constituents !== undefined || r.namedConstituents !== undefined) {
    d.isAggregate = true;
    setTexts(d._initConstituents(r.constituents?.length ?? 0), r.constituents ?? []);
    setTexts(d._initNamedConstituents(r.namedConstituents?.length ?? 0), r.namedConstituents ?? []);
    d.globConstituents = r.globConstituents ?? false;
  }
}

function readEvent(e: schema.Event): WorkResult {
  const attrPath = e.attrPath.toArray();
  const attr = e.attr;
  switch (e.which()) {
    case schema.Event.SKIP:
      return { skip: true, attrPath };
    case schema.Event.ERROR:
      return { attr, attrPath, error: e.error, fatal: false };
    case schema.Event.ATTRSET:
      return { attr, attrPath, attrs: e.attrset.toArray() };
    case schema.Event.DERIVATION: {
      const d = e.derivation;
      const event: DerivationEvent = {
        attr,
        attrPath,
        name: d.name,
        system: d.system,
        drvPath: d.drvPath,
        outputs: Object.fromEntries(d.outputs.toArray().map((o) => [o.key, o.value])),
        requiredSystemFeatures: d.requiredSystemFeatures.toArray(),
      };
      if (d.metaJson !== '') event.meta = JSON.parse(d.metaJson) as Record<string, unknown>;
      if (d.extraValueJson !== '') event.extraValue = JSON.parse(d.extraValueJson) as unknown;
      if (d.hasInputDrvs) event.inputDrvs = Object.fromEntries(d.inputDrvs.toArray().map((i) => [i.drvPath, i.outputs.toArray()]));
      if (d.isAggregate) {
        event.constituents = d.constituents.toArray();
        event.namedConstituents = d.namedConstituents.toArray();
        event.globConstituents = d.globConstituents;
      }
      return event;
    }
    default:
      throw new ProtocolError('unknown event');
  }
}

// --- evaluation config -------------------------------------------------------

export function encodeConfig(c: WireConfig): Buffer {
  const message = new capnp.Message();
  const root = message.initRoot(schema.Config);
  const input = root._initInput();
  switch (c.input.kind) {
    case 'file':
      input.file = c.input.path;
      break;
    case 'expr':
      input.expr = c.input.expr;
      break;
    case 'flake': {
      const flake = input._initFlake();
      flake.lockedUrl = c.input.lockedUrl;
      setTexts(flake._initAttrPath(c.input.attrPath.length), c.input.attrPath);
      flake.overriddenLock = c.input.overriddenLock ?? '';
      break;
    }
  }
  const args = root._initAutoArgs(c.autoArgs.length);
  c.autoArgs.forEach((a, i) => {
    const arg = args.get(i);
    arg.name = a.name;
    arg.isString = a.kind === 'string';
    arg.value = a.value;
  });
  setTexts(root._initIncludePaths(c.includePaths.length), c.includePaths);
  const options = root._initNixOptions(c.nixOptions.length);
  c.nixOptions.forEach(([key, value], i) => {
    options.get(i).key = key;
    options.get(i).value = value;
  });
  root.impure = c.impure;
  root.forceRecurse = c.forceRecurse;
  root.meta = c.meta;
  root.showInputDrvs = c.showInputDrvs;
  root.showTrace = c.showTrace;
  root.maxMemoryMiB = c.maxMemoryMiB;
  root.select = c.select ?? '';
  root.apply = c.apply ?? '';
  return frame(message);
}

export function decodeConfig(bytes: Uint8Array): WireConfig {
  const root = read(bytes, schema.Config);
  return decoding('config', () => {
    const input = root.input;
    let resolved: ResolvedInput;
    switch (input.which()) {
      case schema.Config_Input.FILE:
        resolved = { kind: 'file', path: input.file };
        break;
      case schema.Config_Input.EXPR:
        resolved = { kind: 'expr', expr: input.expr };
        break;
      case schema.Config_Input.FLAKE: {
        const flake = input.flake;
        resolved = { kind: 'flake', lockedUrl: flake.lockedUrl, attrPath: flake.attrPath.toArray() };
        if (flake.overriddenLock !== '') resolved.overriddenLock = flake.overriddenLock;
        break;
      }
      default:
        throw new ProtocolError('unknown input kind');
    }
    const autoArgs: AutoArg[] = root.autoArgs.toArray().map((a) => ({ name: a.name, kind: a.isString ? 'string' : 'expr', value: a.value }));
    const functions = { ...(root.select !== '' ? { select: root.select } : {}), ...(root.apply !== '' ? { apply: root.apply } : {}) };
    return {
      ...functions,
      input: resolved,
      autoArgs,
      includePaths: root.includePaths.toArray(),
      nixOptions: root.nixOptions.toArray().map((o): [string, string] => [o.key, o.value]),
      impure: root.impure,
      forceRecurse: root.forceRecurse,
      meta: root.meta,
      showInputDrvs: root.showInputDrvs,
      showTrace: root.showTrace,
      maxMemoryMiB: root.maxMemoryMiB,
    };
  });
}
