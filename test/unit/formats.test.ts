import { expect, test } from 'vitest';
import { formatEvent, nixEvalJobsAttr } from '../../src/sinks/formats.js';

const drv = { attr: '"a.b".c', attrPath: ['a.b', 'c'], name: 'n', system: 's', drvPath: '/d', outputs: { out: '/o' }, requiredSystemFeatures: [] };

test('nix-eval-jobs quotes only names that hold a dot', () => {
  expect(nixEvalJobsAttr(['a.b', 'with space', 'x'])).toBe('"a.b".with space.x');
  expect(nixEvalJobsAttr([])).toBe('');
});

test('the evix format prints every event unchanged', () => {
  expect(formatEvent(drv, 'evix')).toBe(drv);
  const set = { attr: '', attrPath: [], attrs: ['a'] };
  expect(formatEvent(set, 'evix')).toBe(set);
});

test('the nix-eval-jobs format drops attrsets and the fatal flag', () => {
  expect(formatEvent({ attr: '', attrPath: [], attrs: ['a'] }, 'nix-eval-jobs')).toBeUndefined();
  expect(formatEvent({ attr: '"x y"', attrPath: ['x y'], error: 'e', fatal: false }, 'nix-eval-jobs')).toEqual({ attr: 'x y', attrPath: ['x y'], error: 'e' });
  expect(formatEvent(drv, 'nix-eval-jobs')).toEqual({ ...drv, attr: '"a.b".c' });
});
