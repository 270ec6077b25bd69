import { expect, test } from 'vitest';
import type { DerivationEvent } from '../../src/events.js';
import { evixLine, nixEvalJobsAttr, nixEvalJobsLine } from '../../src/sinks/formats.js';

const drv: DerivationEvent = { attr: '"a.b".c', attrPath: ['a.b', 'c'], name: 'n', system: 's', drvPath: '/d', outputs: { out: '/o' }, requiredSystemFeatures: [] };
const plain = nixEvalJobsLine({ constituents: false, instantiated: true });

test('nix-eval-jobs quotes only names that hold a dot', () => {
  expect(nixEvalJobsAttr(['a.b', 'with space', 'x'])).toBe('"a.b".with space.x');
  expect(nixEvalJobsAttr([])).toBe('');
});

test('the evix format prints every event unchanged, but for the derivation a failed aggregate carries', () => {
  expect(evixLine(drv)).toBe(drv);
  const set = { attr: '', attrPath: [], attrs: ['a'] };
  expect(evixLine(set)).toBe(set);
  expect(evixLine({ attr: 'x', attrPath: ['x'], error: 'e', fatal: false, aggregate: drv })).toEqual({ attr: 'x', attrPath: ['x'], error: 'e', fatal: false });
});

test('the nix-eval-jobs format: no attrsets, no fatal errors, errors as Nix prints them, keys sorted', () => {
  expect(plain({ attr: '', attrPath: [], attrs: ['a'] })).toBeUndefined();
  expect(plain({ attr: '', attrPath: [], error: 'cannot open', fatal: true })).toBeUndefined();
  expect(plain({ attr: '"x y"', attrPath: ['x y'], error: 'e\n       at x', fatal: false })).toEqual({ attr: 'x y', attrPath: ['x y'], error: 'error: e\n       at x' });
  const line = plain({ ...drv, meta: {}, extraValue: { z: 1, a: 2 } });
  expect(JSON.stringify(line)).toBe(
    '{"attr":"\\"a.b\\".c","attrPath":["a.b","c"],"drvPath":"/d","extraValue":{"a":2,"z":1},"meta":null,"name":"n","outputs":{"out":"/o"},"requiredSystemFeatures":[],"system":"s"}',
  );
});

test('constituent fields on every derivation with --constituents only; nothing from the .drv without instantiating', () => {
  const aggregate = { ...drv, constituents: ['/c'], namedConstituents: [], globConstituents: false };
  expect(plain(aggregate)).not.toHaveProperty('constituents');
  const withConstituents = nixEvalJobsLine({ constituents: true, instantiated: true });
  expect(withConstituents(drv)).toMatchObject({ constituents: [], namedConstituents: [], globConstituents: false });
  const { namedConstituents: _named, ...resolved } = aggregate;
  expect(withConstituents(resolved)).not.toHaveProperty('namedConstituents');
  expect(nixEvalJobsLine({ constituents: false, instantiated: false })(drv)).not.toHaveProperty('requiredSystemFeatures');
  const failed = withConstituents({ attr: 'x', attrPath: ['x'], error: 'nope: does not exist\n', fatal: false, aggregate: { ...resolved, attr: 'x', attrPath: ['x'] } });
  expect(failed).toMatchObject({ attr: 'x', name: 'n', constituents: ['/c'], error: 'nope: does not exist\n' });
  expect(failed).not.toHaveProperty('namedConstituents');
});
