import { expect, test } from 'vitest';
import { completeConfig } from '../../src/config.js';
import { parseRequest, sessionKey } from '../../src/daemon/protocol.js';

const config = completeConfig({ input: { kind: 'file', path: 'jobs.nix' }, workdir: '/work' });
const line = (request: unknown) => JSON.stringify(request);
/** The error an eval request gets with `changes` made to its config. */
const configError = (changes: Record<string, unknown>) => parseRequest(line({ v: 1, id: 3, op: 'eval', config: { ...config, ...changes }, workers: 1 }));

test('every op reads back as sent, optional fields present or not', () => {
  const requests = [
    { v: 1, id: 1, op: 'eval', config, workers: 2 },
    { v: 1, id: 2, op: 'diff', config: { ...config, select: 's: s', apply: 'd: d' }, workers: 1 },
    { v: 1, id: 3, op: 'query', config, filter: {} },
    { v: 1, id: 4, op: 'query', config, filter: { systems: ['x86_64-linux'], attrs: ['a.b'] } },
    { v: 1, id: 5, op: 'ping' },
  ];
  for (const request of requests) expect(parseRequest(line(request))).toEqual(request);
});

test('a field the request should not have is refused, at any depth', () => {
  expect(parseRequest(line({ v: 1, id: 5, op: 'ping', extra: true }))).toEqual({ id: 5, error: 'unknown field request.extra' });
  expect(configError({ extra: 1 })).toEqual({ id: 3, error: 'unknown field request.config.extra' });
  expect(configError({ input: { kind: 'file', path: 'x', ref: 'y' } })).toEqual({ id: 3, error: 'unknown field request.config.input.ref' });
  // Own fields only: a name Object.prototype has is no field of the request.
  expect(configError({ constructor: 1 })).toEqual({ id: 3, error: 'unknown field request.config.constructor' });
});

test('a missing field is named; only optional ones may be left out', () => {
  const { workdir: _, ...withoutWorkdir } = config;
  expect(parseRequest(line({ v: 1, id: 3, op: 'eval', config: withoutWorkdir, workers: 1 }))).toEqual({ id: 3, error: 'missing field request.config.workdir' });
  expect(configError({ input: { kind: 'file' } })).toEqual({ id: 3, error: 'missing field request.config.input.path' });
});

test('a value of the wrong type or outside its words says what it must be', () => {
  expect(configError({ impure: 'yes' })).toEqual({ id: 3, error: 'request.config.impure must be a boolean' });
  expect(configError({ maxMemoryMiB: -1 })).toEqual({ id: 3, error: 'request.config.maxMemoryMiB must be a non-negative integer' });
  expect(configError({ select: 1 })).toEqual({ id: 3, error: 'request.config.select must be a string' });
  expect(configError({ nixOptions: [['k']] })).toEqual({ id: 3, error: 'request.config.nixOptions[0] must be a pair of strings' });
  expect(configError({ input: { kind: 'store', path: 'x' } })).toEqual({ id: 3, error: 'request.config.input.kind must be file, expr or flake' });
  expect(configError({ autoArgs: [{ name: 'a', kind: 'json', value: '1' }] })).toEqual({ id: 3, error: 'request.config.autoArgs[0].kind must be expr or string' });
  expect(parseRequest(line({ v: 1, id: 6, op: 'build' }))).toEqual({ id: 6, error: 'request.op must be eval, diff, query or ping' });
});

test('not JSON, not an object, another version: an error, with the id when there is one', () => {
  expect(parseRequest('not json')).toEqual({ id: null, error: 'request is not JSON' });
  expect(parseRequest('[1]')).toEqual({ id: null, error: 'request must be an object' });
  expect(parseRequest(line({ v: 9, id: 6, op: 'ping' }))).toEqual({ id: 6, error: 'protocol version mismatch: the daemon speaks 1, the request 9' });
});

test('a session is one per input whatever its spelling, and per working directory', () => {
  const key = (input: Parameters<typeof completeConfig>[0]['input'], workdir = '/work') => sessionKey(completeConfig({ input, workdir }));
  const file = key({ kind: 'file', path: '/work/jobs.nix' });
  expect(key({ kind: 'file', path: 'jobs.nix' })).toBe(file);
  expect(key({ kind: 'file', path: './jobs.nix' })).toBe(file);
  expect(key({ kind: 'file', path: 'jobs.nix' }, '/other')).not.toBe(key({ kind: 'file', path: 'jobs.nix' }));
  const flake = key({ kind: 'flake', ref: '/work#hydraJobs' });
  expect(key({ kind: 'flake', ref: '.#hydraJobs' })).toBe(flake);
  expect(key({ kind: 'flake', ref: 'path:.#hydraJobs' })).not.toBe(flake);
  // --expr, --arg and -I may be relative to the working directory: it stays in the key.
  expect(key({ kind: 'expr', expr: 'import ./x.nix' }, '/other')).not.toBe(key({ kind: 'expr', expr: 'import ./x.nix' }));
});
