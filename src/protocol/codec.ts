/**
 * Messages of schema/evix.capnp to and from plain objects. Each message is
 * one framed Cap'n Proto message; decoding a frame that is not a valid
 * message of the expected kind throws ProtocolError. The messages of every
 * chunk (Work, Event, Status) are written and, when canonical, read by
 * item-messages.ts; everything else goes through capnp-es. Reads are bounded
 * by capnp-es' nesting limit and by a traversal limit tied to the frame size,
 * a Work by MAX_CHUNK_ATTRIBUTES.
 */
import * as capnp from 'capnp-es';
import type { AutoArg, ResolvedInput, StoreSource, WorkerConfig } from '../config.js';
import type { AttrsetResult, DerivationEvent, WorkResult } from '../events.js';
import { chunkSize, type WorkChunk, type WorkUnit } from '../work.js';
import * as schema from './generated/evix.js';
import { encodeEvent, encodeStatus, encodeWork, readItemAnswer, readWork } from './item-messages.js';
import { ProtocolError, ReadBudget } from './read-budget.js';

/** Raised whenever schema/evix.capnp changes in a way an older peer cannot read. */
export const PROTOCOL_VERSION = 4;

/**
 * The most attributes a Work may name, the most units it may hold (a unit
 * names one or more) and its largest budget. A worker drops a connection
 * that sends more, as for any other bound: the work a message asks for, and
 * the answer it brings back, grow with them.
 */
export const MAX_CHUNK_ATTRIBUTES = 4096;

export { ProtocolError };

/**
 * The most NAR bytes one SourcePart carries: well under a worker's frame
 * limit, and small enough that a source in transit is never held whole.
 */
export const SOURCE_PART_BYTES = 1 << 20;

export type ClientMessage =
  | { kind: 'setup'; protocolVersion: number; nonce: Uint8Array; mac: Uint8Array; config: Uint8Array }
  /** `budget`: the most results the answer may hold (see Worker.evaluate). */
  | { kind: 'work'; id: number; chunk: WorkChunk; budget: number }
  | { kind: 'shutdown' }
  | { kind: 'ping'; id: number }
  /** Part of the NAR of a source the worker wanted (see SOURCE_PART_BYTES). */
  | { kind: 'source'; storePath: string; data: Uint8Array; last: boolean };

export type ServerMessage =
  | { kind: 'hello'; protocolVersion: number; nonce: Uint8Array }
  | { kind: 'ready'; proof: Uint8Array }
  /** The results of a Work's chunk, in order (see ChunkAnswer); its Status follows. */
  | { kind: 'event'; id: number; events: WorkResult[] }
  | { kind: 'status'; id: number; restart: boolean }
  | { kind: 'error'; message: string }
  | { kind: 'pong'; id: number }
  /** The shipped sources the worker lacks, in the order it wants them. */
  | { kind: 'want'; storePaths: string[] };

/** The config as it crosses the wire: everything but the master's working directory. */
export type WireConfig = Omit<WorkerConfig, 'workdir' | 'overrideInputs' | 'evalStore' | 'overrideFlakes' | 'referenceLockFile'>;

const asBuffer = (bytes: Uint8Array): Buffer => (Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));

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

/**
 * A list read through capnp-es, charged to the message's budget first: a
 * list of zero-sized structs takes no room, so a small frame can announce
 * hundreds of millions of elements.
 */
function readList<T>(list: capnp.List<T>, budget: ReadBudget): T[] {
  budget.charge(list.length * 8);
  return list.toArray();
}

/** A text list read through capnp-es, charged to the message's budget as it goes. */
function readTexts(list: capnp.List<string>, budget: ReadBudget): string[] {
  budget.charge(list.length * 8);
  const values: string[] = [];
  for (let i = 0; i < list.length; i++) values.push(readText(list.get(i), budget));
  return values;
}

function readText(value: string, budget: ReadBudget): string {
  budget.charge(value.length);
  return value;
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
  // Written directly, without capnp-es' message (see item-messages.ts).
  if (m.kind === 'work') return encodeWork(m.id, m.chunk, m.budget);
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
    case 'shutdown':
      root.shutdown = true;
      break;
    case 'ping':
      root.ping = BigInt(m.id);
      break;
    case 'source': {
      const part = root._initSource();
      part.storePath = m.storePath;
      setData((n) => part._initData(n), m.data);
      part.last = m.last;
      break;
    }
  }
  return frame(message);
}

export function decodeClient(bytes: Uint8Array): ClientMessage {
  const work = readWork(asBuffer(bytes));
  const message: ClientMessage = work ? { kind: 'work', ...work } : decodeClientWithCapnp(bytes);
  if (message.kind === 'work' && Math.max(message.chunk.length, chunkSize(message.chunk), message.budget) > MAX_CHUNK_ATTRIBUTES) {
    throw new ProtocolError(`a work message over ${MAX_CHUNK_ATTRIBUTES} attributes`);
  }
  if (message.kind === 'work' && message.chunk.some((unit) => unit.kind === 'part' && !(unit.part < unit.parts))) {
    throw new ProtocolError('a work message with a part outside its parts');
  }
  return message;
}

function decodeClientWithCapnp(bytes: Uint8Array): ClientMessage {
  const root = read(bytes, schema.ClientMessage);
  return decoding('client message', (): ClientMessage => {
    switch (root.which()) {
      case schema.ClientMessage.SETUP: {
        const s = root.setup;
        return { kind: 'setup', protocolVersion: s.protocolVersion, nonce: s.nonce.toUint8Array(), mac: s.mac.toUint8Array(), config: s.config.toUint8Array() };
      }
      case schema.ClientMessage.WORK: {
        const budget = new ReadBudget(bytes.length);
        const work = root.work;
        return { kind: 'work', id: toId(work.id), chunk: readList(work.units, budget).map((u) => readUnit(u, budget)), budget: work.budget };
      }
      case schema.ClientMessage.SHUTDOWN:
        return { kind: 'shutdown' };
      case schema.ClientMessage.PING:
        return { kind: 'ping', id: toId(root.ping) };
      case schema.ClientMessage.SOURCE: {
        const part = root.source;
        const data = part.data.toUint8Array();
        if (data.length > SOURCE_PART_BYTES) throw new ProtocolError(`a source part over ${SOURCE_PART_BYTES} bytes`);
        return { kind: 'source', storePath: part.storePath, data, last: part.last };
      }
      default:
        throw new ProtocolError('unknown client message');
    }
  });
}

// --- server messages ---------------------------------------------------------

export function encodeServer(m: ServerMessage): Buffer {
  // Written directly, without capnp-es' message (see item-messages.ts).
  if (m.kind === 'event') return encodeEvent(m.id, m.events);
  if (m.kind === 'status') return encodeStatus(m.id, m.restart);
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
    case 'error':
      root.error = m.message;
      break;
    case 'pong':
      root.pong = BigInt(m.id);
      break;
    case 'want':
      setTexts(root._initWant(m.storePaths.length), m.storePaths);
      break;
  }
  return frame(message);
}

export function decodeServer(bytes: Uint8Array): ServerMessage {
  const answer = readItemAnswer(asBuffer(bytes));
  if (answer) return answer;
  const root = read(bytes, schema.ServerMessage);
  return decoding('server message', (): ServerMessage => {
    switch (root.which()) {
      case schema.ServerMessage.HELLO:
        return { kind: 'hello', protocolVersion: root.hello.protocolVersion, nonce: root.hello.nonce.toUint8Array() };
      case schema.ServerMessage.READY:
        return { kind: 'ready', proof: root.ready.proof.toUint8Array() };
      case schema.ServerMessage.EVENT: {
        const budget = new ReadBudget(bytes.length);
        return { kind: 'event', id: toId(root.event.id), events: readList(root.event.events, budget).map((e) => readEvent(e, budget)) };
      }
      case schema.ServerMessage.STATUS:
        return { kind: 'status', id: toId(root.status.id), restart: root.status.state === schema.WorkStatus_State.RESTART };
      case schema.ServerMessage.ERROR:
        return { kind: 'error', message: root.error };
      case schema.ServerMessage.PONG:
        return { kind: 'pong', id: toId(root.pong) };
      case schema.ServerMessage.WANT:
        return { kind: 'want', storePaths: readTexts(root.want, new ReadBudget(bytes.length)) };
      default:
        throw new ProtocolError('unknown server message');
    }
  });
}

/** A WorkUnit of a Work that the fast path declined (not canonical), through capnp-es. */
function readUnit(u: schema.WorkUnit, budget: ReadBudget): WorkUnit {
  switch (u.which()) {
    case schema.WorkUnit.PATH:
      return { kind: 'path', path: readTexts(u.path, budget) };
    case schema.WorkUnit.SIBLINGS: {
      const s = u.siblings;
      return { kind: 'siblings', parent: readTexts(s.parent, budget), from: s.from, names: readTexts(s.names, budget) };
    }
    case schema.WorkUnit.PART: {
      const p = u.part;
      return { kind: 'part', path: readTexts(p.path, budget), part: p.part, parts: p.parts };
    }
    default:
      throw new ProtocolError('unknown work unit');
  }
}

/** An Event of a WorkEvent that the fast path declined (not canonical), through capnp-es. */
function readEvent(e: schema.Event, budget: ReadBudget): WorkResult {
  const text = (value: string) => readText(value, budget);
  const texts = (list: capnp.List<string>) => readTexts(list, budget);
  const attrPath = texts(e.attrPath);
  if (e.which() === schema.Event.SKIP) return { skip: true, attrPath };
  const attr = text(e.attr);
  switch (e.which()) {
    case schema.Event.ERROR:
      return { attr, attrPath, error: text(e.error), fatal: false };
    case schema.Event.ATTRSET: {
      const set: AttrsetResult = { attr, attrPath, attrs: texts(e.attrset) };
      if (e.childrenAnswered) set.childrenAnswered = true;
      return set;
    }
    case schema.Event.DERIVATION: {
      const d = e.derivation;
      const event: DerivationEvent = {
        attr,
        attrPath,
        name: text(d.name),
        system: text(d.system),
        drvPath: text(d.drvPath),
        outputs: Object.fromEntries(readList(d.outputs, budget).map((o) => [text(o.key), text(o.value)])),
        requiredSystemFeatures: texts(d.requiredSystemFeatures),
      };
      const meta = text(d.metaJson);
      if (meta !== '') event.meta = JSON.parse(meta) as Record<string, unknown>;
      const extraValue = text(d.extraValueJson);
      if (extraValue !== '') event.extraValue = JSON.parse(extraValue) as unknown;
      if (d.hasInputDrvs) event.inputDrvs = Object.fromEntries(readList(d.inputDrvs, budget).map((i) => [text(i.drvPath), texts(i.outputs)]));
      if (d.isAggregate) {
        event.constituents = texts(d.constituents);
        event.namedConstituents = texts(d.namedConstituents);
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
      flake.lockJson = c.input.lockJson;
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
  const sources = root._initSources(c.sources?.length ?? 0);
  c.sources?.forEach((source, i) => {
    const entry = sources.get(i);
    entry.storePath = source.storePath;
    entry.narHash = source.narHash;
    entry.narSize = BigInt(source.narSize);
  });
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
        resolved = { kind: 'flake', lockedUrl: flake.lockedUrl, attrPath: flake.attrPath.toArray(), lockJson: flake.lockJson };
        break;
      }
      default:
        throw new ProtocolError('unknown input kind');
    }
    const autoArgs: AutoArg[] = root.autoArgs.toArray().map((a) => ({ name: a.name, kind: a.isString ? 'string' : 'expr', value: a.value }));
    const functions = { ...(root.select !== '' ? { select: root.select } : {}), ...(root.apply !== '' ? { apply: root.apply } : {}) };
    const sources = root.sources.toArray().map((s): StoreSource => ({ storePath: s.storePath, narHash: s.narHash, narSize: Number(s.narSize) }));
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
      ...(sources.length > 0 ? { sources } : {}),
    };
  });
}
