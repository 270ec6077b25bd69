import { Command } from 'commander';
import { expect, test } from 'vitest';
import { joinOptionValues } from '../../src/cli/argv.js';
import { MULTI_VALUE_OPTIONS, configFromFlags, withConfigOptions, type ConfigFlags } from '../../src/cli/config-options.js';
import { DEFAULT_EVAL_OPTIONS, completeConfig } from '../../src/config.js';

/** The config the command line makes of `argv`, parsed by commander as `evix eval` parses it. */
function configOf(argv: string[]) {
  const command = withConfigOptions(new Command('eval')).exitOverride();
  command.parse(joinOptionValues(argv, MULTI_VALUE_OPTIONS), { from: 'user' });
  return configFromFlags(command.opts<ConfigFlags>(), '/work');
}

test('a config given only its input takes every default, in the working directory', () => {
  expect(completeConfig({ input: { kind: 'expr', expr: '{}' } })).toEqual({ ...DEFAULT_EVAL_OPTIONS, workdir: process.cwd(), input: { kind: 'expr', expr: '{}' } });
});

test('a field set to undefined takes its default rather than hiding it', () => {
  const config = completeConfig({ input: { kind: 'expr', expr: '{}' }, impure: undefined, maxMemoryMiB: undefined, workdir: undefined, select: undefined });
  expect(config.impure).toBe(DEFAULT_EVAL_OPTIONS.impure);
  expect(config.maxMemoryMiB).toBe(DEFAULT_EVAL_OPTIONS.maxMemoryMiB);
  expect(config.workdir).toBe(process.cwd());
  expect('select' in config).toBe(false);
});

test('no two configs share a default list', () => {
  const one = completeConfig({ input: { kind: 'expr', expr: '{}' } });
  one.includePaths.push('/changed');
  expect(completeConfig({ input: { kind: 'expr', expr: '{}' } }).includePaths).toEqual([]);
  expect(DEFAULT_EVAL_OPTIONS.includePaths).toEqual([]);
});

test('the command line with no option flags makes the library default config', () => {
  expect(configOf(['--file', 'jobs.nix'])).toEqual(completeConfig({ input: { kind: 'file', path: 'jobs.nix' }, workdir: '/work' }));
});

test('each option flag sets its field', () => {
  const argv = ['--flake', '.#jobs', '--arg', 'a', '1', '--argstr', 'b', 'two', '-I', 'x=/y', '--option', 'k', 'v', '--override-input', 'dep', 'path:/dep'];
  const flags = ['--impure', '--force-recurse', '--meta', '--show-input-drvs', '--show-trace', '--max-memory-size', '512', '--select', 's: s', '--apply', 'd: d'];
  expect(configOf([...argv, ...flags])).toEqual({
    input: { kind: 'flake', ref: '.#jobs' },
    autoArgs: [
      { name: 'a', kind: 'expr', value: '1' },
      { name: 'b', kind: 'string', value: 'two' },
    ],
    includePaths: ['x=/y'],
    nixOptions: [['k', 'v']],
    overrideInputs: [['dep', 'path:/dep']],
    impure: true,
    forceRecurse: true,
    meta: true,
    showInputDrvs: true,
    showTrace: true,
    maxMemoryMiB: 512,
    workdir: '/work',
    select: 's: s',
    apply: 'd: d',
  });
  expect(configOf(['--expr', '{}', '--max-memory', '64']).maxMemoryMiB).toBe(64);
});
