import { expect, test } from 'vitest';
import { UsageError, joinOptionValues, splitOptionValue } from '../../src/cli/argv.js';
import { MULTI_VALUE_OPTIONS as EVAL_MULTI_VALUE_OPTIONS } from '../../src/cli/config-options.js';
import { summarizeNixError } from '../../src/nix/commands.js';

test('joins the values of multi-value options and leaves the rest', () => {
  const argv = joinOptionValues(['eval', '--arg', 'x', '1 + 1', '--workers', '2', '--option', 'k', 'v'], EVAL_MULTI_VALUE_OPTIONS);
  expect(argv).toEqual(['eval', '--arg', 'x\u00001 + 1', '--workers', '2', '--option', 'k\u0000v']);
  expect(splitOptionValue(argv[2]!)).toEqual(['x', '1 + 1']);
});

test('values may look like options; -- ends option processing', () => {
  expect(joinOptionValues(['--argstr', 'x', '--arg', '--', '--arg'], EVAL_MULTI_VALUE_OPTIONS)).toEqual(['--argstr', 'x\u0000--arg', '--', '--arg']);
});

test('a missing value is a usage error', () => {
  expect(() => joinOptionValues(['--option', 'k'], EVAL_MULTI_VALUE_OPTIONS)).toThrow(UsageError);
});

test('summarizeNixError keeps the first line and the location', () => {
  expect(summarizeNixError("syntax error, unexpected ';'\n\n       at /x.nix:1:7:\n\n            1| { a = ; }")).toBe("syntax error, unexpected ';' (at /x.nix:1:7)");
  expect(summarizeNixError('boom')).toBe('boom');
});
