import { expect, test } from 'vitest';
import { NixUsageError, needsSettings, parseNixArgs, type FlagSpec } from '../../src/cli/nix-args.js';
import type { SettingKind } from '../../src/nix/settings.js';

const FLAGS: FlagSpec[] = [
  { names: ['--flake'], arity: 0 },
  { names: ['--expr', '-E'], arity: 0 },
  { names: ['--include', '-I'], arity: 1 },
  { names: ['--verbose', '-v'], arity: 0 },
  { names: ['--arg'], arity: 2 },
];
const SETTINGS = new Map<string, SettingKind>([
  ['experimental-features', 'value'],
  ['allow-import-from-derivation', 'bool'],
  ['nix-path', 'value'],
]);
const parse = (...argv: string[]) => parseNixArgs(argv, FLAGS, SETTINGS);

test('flags take the next words verbatim, in order, with positionals between them', () => {
  expect(parse('--arg', 'x', '-1', 'ci.nix', '--flake')).toEqual([{ flag: '--arg', values: ['x', '-1'] }, { positional: 'ci.nix' }, { flag: '--flake', values: [] }]);
  expect(parse('-E', '{ }')).toEqual([{ flag: '--expr', values: [] }, { positional: '{ }' }]);
});

test('short flags split as Nix splits them', () => {
  expect(parse('-vv', '-I/nix/path')).toEqual([
    { flag: '--verbose', values: [] },
    { flag: '--verbose', values: [] },
    { flag: '--include', values: ['/nix/path'] },
  ]);
});

test('settings are flags: --NAME VALUE, --extra-NAME VALUE, --NAME and --no-NAME for booleans', () => {
  expect(parse('--extra-experimental-features', 'nix-command flakes', '--no-allow-import-from-derivation', '--nix-path', 'a=/b', '--allow-import-from-derivation')).toEqual([
    { setting: 'extra-experimental-features', value: 'nix-command flakes' },
    { setting: 'allow-import-from-derivation', value: 'false' },
    { setting: 'nix-path', value: 'a=/b' },
    { setting: 'allow-import-from-derivation', value: 'true' },
  ]);
});

test("-- ends the flags; mistakes are told in Nix's words", () => {
  expect(parse('--', '--flake')).toEqual([{ positional: '--flake' }]);
  expect(() => parse('--nope')).toThrow(new NixUsageError("unrecognised flag '--nope'"));
  expect(() => parse('--no-nix-path')).toThrow(new NixUsageError("unrecognised flag '--no-nix-path'"));
  expect(() => parse('--file=x')).toThrow(new NixUsageError("unrecognised flag '--file=x'"));
  expect(() => parse('--arg', 'x')).toThrow(new NixUsageError("flag '--arg' requires 2 argument(s), but only 1 were given"));
});

test('the settings are needed only for a long flag the table lacks', () => {
  expect(needsSettings(['--flake', '.#x', '-I', '--not-a-flag'], FLAGS)).toBe(false);
  expect(needsSettings(['--extra-experimental-features', 'flakes'], FLAGS)).toBe(true);
  expect(needsSettings(['--', '--whatever'], FLAGS)).toBe(false);
});
