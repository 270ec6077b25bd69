/** `evix eval` of the main fixture with real Nix, checked against Nix itself. */
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { isAttrsetEvent, type EvalEvent } from '../../src/events.js';
import { FIXTURES, byAttr, collect, config, derivationSet, derivations, errors, expectMatchesNix, nixMessage, viaNixInstantiate } from '../helpers.js';

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const JOBS = `${FIXTURES}/jobs.nix`;
const jobsInput = { kind: 'file', path: JOBS } as const;

describe('the main fixture', async () => {
  const { events, fatal } = await collect(config(jobsInput, { meta: true, showInputDrvs: true }), 2);
  const drvs = byAttr(derivations(events));
  const errs = byAttr(errors(events));

  test('completes without a fatal error', () => {
    expect(fatal).toBeUndefined();
  });

  test('every derivation matches nix-instantiate and nix show-derivation', async () => {
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(events));
  });

  test('walks the root, recursed sets only, and nothing else', () => {
    expect([...drvs.keys()].sort()).toEqual(
      [
        '"1leading"',
        '"a.dotted"',
        '"dollar\\${x}"',
        '"quote\\"d"',
        '"with space"',
        '"ünïcødé"',
        'aggregate',
        'arm',
        'dependent',
        'hello',
        'mac',
        'multi',
        'nested.deeper.leaf',
        'nested.inner',
        'withMeta',
      ].sort(),
    );
    const sets = events.filter(isAttrsetEvent).map((e) => e.attr);
    expect(sets.sort()).toEqual(['', 'nested', 'nested.deeper']);
    expect(byAttr(events.filter(isAttrsetEvent)).get('nested')?.attrs).toEqual(['deeper', 'inner', 'notRecursed']);
  });

  test('keeps attribute names exactly in attrPath', () => {
    expect(drvs.get('"dollar\\${x}"')?.attrPath).toEqual(['dollar${x}']);
    expect(drvs.get('"quote\\"d"')?.attrPath).toEqual(['quote"d']);
    expect(drvs.get('"a.dotted"')?.attrPath).toEqual(['a.dotted']);
    expect(drvs.get('"ünïcødé"')?.name).toBe('unicode');
  });

  test('reports each broken attribute as a non-fatal error beside good siblings', async () => {
    const expected: Record<string, RegExp> = {
      throws: /thrown on purpose/,
      // Its words depend on the Nix version: what this Nix says.
      asserts: new RegExp(`^${escapeRegExp(await nixMessage(['-A', 'asserts', JOBS]))}`),
      aborts: /aborted on purpose/,
      missing: /attribute 'nothing' missing/,
      typeError: /cannot add a string to an integer/,
      infinite: /infinite recursion encountered/,
      stackOverflow: /stack overflow/,
    };
    expect([...errs.keys()].sort()).toEqual(Object.keys(expected).sort());
    for (const [attr, pattern] of Object.entries(expected)) {
      expect(errs.get(attr)?.error, attr).toMatch(pattern);
      expect(errs.get(attr)?.fatal).toBe(false);
      expect(errs.get(attr)?.attrPath).toEqual([attr]);
    }
  });

  test('gives every output of a multi-output derivation', () => {
    expect(Object.keys(drvs.get('multi')!.outputs).sort()).toEqual(['dev', 'lib', 'out']);
  });

  test('reports the system of derivations for other platforms', () => {
    expect(drvs.get('arm')?.system).toBe('aarch64-linux');
    expect(drvs.get('mac')?.system).toBe('aarch64-darwin');
  });

  test('--meta keeps the meta values that force and serialise', () => {
    expect(drvs.get('withMeta')?.meta).toEqual({
      description: 'has meta',
      license: { spdx: 'MIT' },
      platforms: ['x86_64-linux'],
    });
    expect(drvs.get('hello')?.meta).toEqual({});
  });

  test('--show-input-drvs reads the inputs from the .drv', () => {
    const dependent = drvs.get('dependent')!;
    const hello = drvs.get('hello')!;
    expect(Object.keys(dependent.inputDrvs!)).toHaveLength(2);
    expect(dependent.inputDrvs![hello.drvPath]).toEqual(['out']);
    expect(hello.inputDrvs).toEqual({});
  });

  test('an aggregate lists its constituents', () => {
    expect(drvs.get('aggregate')?.constituents).toEqual([drvs.get('hello')!.drvPath]);
    expect(drvs.get('aggregate')?.namedConstituents).toEqual(['arm']);
    expect(drvs.get('hello')?.constituents).toBeUndefined();
  });
});

describe('recursion and workers', () => {
  test('--force-recurse walks sets without recurseForDerivations', async () => {
    const { events } = await collect(config(jobsInput, { forceRecurse: true }), 2);
    const names = derivations(events).map((d) => d.attr);
    expect(names).toEqual(expect.arrayContaining(['notRecursed.hidden', 'nested.notRecursed.hidden', 'explicitlyOff.hidden']));
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(events).filter((d) => d.attr.includes('hidden')));
  });

  test('1, 2 and 4 workers find the same derivations and errors', async () => {
    const runs = await Promise.all([1, 2, 4].map((n) => collect(config(jobsInput), n)));
    const summary = (events: EvalEvent[]) => ({ drvs: derivationSet(events), errors: errors(events).map((e) => e.attr).sort() });
    expect(summary(runs[1]!.events)).toEqual(summary(runs[0]!.events));
    expect(summary(runs[2]!.events)).toEqual(summary(runs[0]!.events));
    expect(runs[0]!.events).toHaveLength(runs[2]!.events.length);
  });
});

describe('function roots', () => {
  test('--arg and --argstr reach the function root', async () => {
    const { events } = await collect(
      config(jobsInput, {
        autoArgs: [
          { name: 'system', kind: 'string', value: 'riscv64-linux' },
          { name: 'label', kind: 'expr', value: '"from-" + "arg"' },
          { name: 'unused', kind: 'string', value: 'ignored' },
        ],
      }),
    );
    const hello = byAttr(derivations(events)).get('hello')!;
    expect(hello.system).toBe('riscv64-linux');
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { system = "riscv64-linux"; label = "from-arg"; }`), [hello]);
    const plain = byAttr(derivations((await collect(config(jobsInput))).events)).get('hello')!;
    expect(plain.drvPath).not.toBe(hello.drvPath);
  });

  test('--expr is evaluated relative to the working directory, multi-line and all', async () => {
    const expr = '# a comment\nlet jobs = import ./jobs.nix { };\nin { inherit (jobs) hello; } # trailing';
    const { events } = await collect(config({ kind: 'expr', expr }, { workdir: FIXTURES }));
    expect(derivations(events).map((d) => d.attr)).toEqual(['hello']);
    await expectMatchesNix(viaNixInstantiate(`import ${JOBS} { }`), derivations(events));
  });
});

describe('a Nix file that ends in the middle of an expression', async () => {
  // The repl reads such a syntax error as input still to come and waits for ever; evix must not.
  const dir = await mkdtemp(join(tmpdir(), 'evix-unfinished-'));
  await writeFile(join(dir, 'broken.nix'), '{ broken\n');
  await writeFile(
    join(dir, 'imports.nix'),
    'let mk = n: derivation { name = n; system = "x86_64-linux"; builder = "/bin/sh"; }; in { a = mk "a"; b = import ./broken.nix; c = mk "c"; }\n',
  );

  test('imported by one attribute, is that attribute\'s error; its siblings are answered', async () => {
    const { events, fatal } = await collect(config({ kind: 'file', path: join(dir, 'imports.nix') }), 2);
    expect(fatal).toBeUndefined();
    expect(derivations(events).map((d) => d.attr).sort()).toEqual(['a', 'c']);
    expect(errors(events)).toEqual([{ attr: 'b', attrPath: ['b'], error: expect.stringMatching(/^syntax error, unexpected end of file/), fatal: false }]);
  });

  test('as the input, fails the run with that error', async () => {
    const { fatal } = await collect(config({ kind: 'file', path: join(dir, 'broken.nix') }), 1);
    expect(fatal).toEqual({ kind: 'input', message: expect.stringMatching(/^syntax error, unexpected end of file/) });
  });
});
