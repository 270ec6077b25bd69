/**
 * Topology invariance: random attribute trees with mixed systems give the
 * same events whoever evaluates them: one local worker, four local, remotes
 * only, local plus remotes, and remotes routed by system. The generator also
 * knows what the walk must find, so each run is checked against that too.
 */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import type { EvaluateOptions, RemoteSpec } from '../../src/evaluate.js';
import { isAttrsetEvent, type EvalEvent } from '../../src/events.js';
import { formatAttrPath, nixString } from '../../src/nix/syntax.js';
import { collect, config, derivationSet, derivations, errors } from '../helpers.js';
import { random } from '../random.js';
import { startWorker, type WorkerProcess } from '../workers.js';

const SYSTEMS = ['x86_64-linux', 'aarch64-linux', 'aarch64-darwin'];
const NAMES = ['a', 'b.c', 'with space', 'q"uote', 'd${x}', 'ünï', '1st', 'z'];
const SEEDS = Array.from({ length: 16 }, (_, i) => i + 1);
const TOKEN = Buffer.from('topology');

interface Generated {
  nix: string;
  derivations: string[];
  errors: string[];
}

/** A random tree: derivations on several systems, walked and unwalked sets, failures. */
function generate(seed: number): Generated {
  const next = random(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const found: Generated = { nix: '', derivations: [], errors: [] };
  const node = (path: string[], depth: number): string => {
    const roll = next();
    const attr = formatAttrPath(path);
    if (depth > 0 && roll < 0.35) {
      const walked = path.length === 0 || next() < 0.8;
      const names = [...new Set(Array.from({ length: 1 + Math.floor(next() * 4) }, () => `${pick(NAMES)}${Math.floor(next() * 3)}`))];
      const children = names.map((n) => `${nixString(n)} = ${walked ? node([...path, n], depth - 1) : 'throw "never walked"'};`);
      return `{ ${walked && path.length > 0 ? 'recurseForDerivations = true; ' : ''}${children.join(' ')} }`;
    }
    if (roll < 0.45) {
      found.errors.push(attr);
      return `throw ${nixString(`broken ${attr}`)}`;
    }
    if (roll < 0.5) return nixString('just a string');
    found.derivations.push(attr);
    return `derivation { name = ${nixString(`d-${seed}-${found.derivations.length}`)}; system = ${nixString(pick(SYSTEMS))}; builder = "/bin/sh"; }`;
  };
  const top = Array.from({ length: 3 + Math.floor(next() * 4) }, (_, i) => `t${i}`);
  found.nix = `{ ${top.map((n) => `${n} = ${node([n], 3)};`).join(' ')} }\n`;
  return found;
}

let dir: string;
let any1: WorkerProcess;
let any2: WorkerProcess;
let x86: WorkerProcess;
let arm: WorkerProcess;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evix-topology-'));
  const start = () => startWorker(['--listen', '127.0.0.1:0'], { env: { EVIX_TOKEN: TOKEN.toString() } });
  [any1, any2, x86, arm] = await Promise.all([start(), start(), start(), start()]);
});
afterAll(async () => {
  await Promise.all([any1, any2, x86, arm].map((w) => w.stop()));
});

const remote = (w: WorkerProcess, systems: string[], connections = 1): RemoteSpec => ({ endpoint: { host: w.host, port: w.port }, systems, connections });

function topologies(): Array<[string, number, Partial<EvaluateOptions>]> {
  return [
    ['one local', 1, {}],
    ['four local', 4, {}],
    ['remotes only', 0, { remotes: [remote(any1, [], 2), remote(any2, [])], remoteToken: TOKEN }],
    ['local plus remotes', 1, { remotes: [remote(any1, []), remote(any2, [])], remoteToken: TOKEN }],
    ['routed by system', 0, { remotes: [remote(x86, ['x86_64-linux'], 2), remote(arm, ['aarch64-linux', 'aarch64-darwin'])], remoteToken: TOKEN }],
  ];
}

function summary(events: EvalEvent[]) {
  return {
    derivations: derivationSet(events),
    errors: errors(events).map((e) => e.attr).sort(),
    attrsets: events.filter(isAttrsetEvent).map((e) => `${e.attr}:${e.attrs.join(',')}`).sort(),
  };
}

test.each(SEEDS)('seed %i: every topology finds the same events', async (seed) => {
  const tree = generate(seed);
  const file = join(dir, `tree-${seed}.nix`);
  await writeFile(file, tree.nix);
  const cfg = config({ kind: 'file', path: file });
  let reference: ReturnType<typeof summary> | undefined;
  for (const [name, workers, options] of topologies()) {
    const run = await collect(cfg, workers, options);
    expect(run.fatal, `${name}: ${run.fatal}`).toBeUndefined();
    const got = summary(run.events);
    expect(derivations(run.events).map((d) => d.attr).sort(), name).toEqual([...tree.derivations].sort());
    expect(got.errors, name).toEqual([...tree.errors].sort());
    reference ??= got;
    expect(got, name).toEqual(reference);
  }
});
