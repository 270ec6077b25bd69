/** `evix eval --flake` with a path input, checked against `nix eval`. */
import { mkdtemp, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, expect, test } from 'vitest';
import { byAttr, collect, config, derivations, errors, expectMatchesNix, runCli, viaNixEval } from '../helpers.js';

let dir: string;

async function writeFlake(path: string, text: string): Promise<void> {
  await mkdir(path, { recursive: true });
  await writeFile(join(path, 'flake.nix'), text);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'evix-flake-'));
  await writeFlake(join(dir, 'dep'), '{ outputs = { self }: { version = "1"; }; }\n');
  await writeFlake(join(dir, 'dep2'), '{ outputs = { self }: { version = "2"; }; }\n');
  await writeFlake(
    join(dir, 'main'),
    `{
  inputs.dep.url = "path:${dir}/dep";
  outputs = { self, dep }:
    let mk = name: system: derivation { inherit system; name = "\${name}-\${dep.version}"; builder = "/bin/sh"; src = self; };
    in {
      hydraJobs = {
        hello = mk "hello" "x86_64-linux";
        arm = mk "arm" "aarch64-linux";
        tests = { recurseForDerivations = true; unit = mk "unit" "x86_64-linux"; };
        broken = throw "broken job";
        impure = mk "impure\${builtins.getEnv "EVIX_TEST_LABEL"}" "x86_64-linux";
      };
    };
}
`,
  );
  // Locked first, as a checked-in flake is: Nix 2.34 gives a flake without a
  // lock file another source on the run that writes it than on later runs
  // (checked: `nix eval` gives one drvPath on its first run, another on the next two).
  await execa('nix', ['--extra-experimental-features', 'nix-command flakes', 'flake', 'lock', `${dir}/main`]);
});

test('a flake with a path input matches nix eval', async () => {
  process.env.EVIX_TEST_LABEL = '-from-env';
  const { events, fatal } = await collect(config({ kind: 'flake', ref: `${dir}/main#hydraJobs` }), 2);
  expect(fatal).toBeUndefined();
  const drvs = derivations(events);
  expect(drvs.map((d) => d.attr).sort()).toEqual(['arm', 'hello', 'impure', 'tests.unit']);
  expect(byAttr(drvs).get('hello')?.name).toBe('hello-1');
  // Evaluated without the environment, as Nix evaluates flakes: getEnv gives nothing.
  expect(byAttr(drvs).get('impure')?.name).toBe('impure-1');
  expect(errors(events).map((e) => e.attr)).toEqual(['broken']);
  await expectMatchesNix(viaNixEval(`${dir}/main#hydraJobs`), drvs);
});

test('--override-input replaces an input for every worker', async () => {
  const override: [string, string] = ['dep', `path:${dir}/dep2`];
  const { events } = await collect(config({ kind: 'flake', ref: `${dir}/main#hydraJobs` }, { overrideInputs: [override] }), 2);
  const drvs = derivations(events);
  expect(byAttr(drvs).get('hello')?.name).toBe('hello-2');
  await expectMatchesNix(viaNixEval(`${dir}/main#hydraJobs`, ['--override-input', ...override]), drvs);
});

test('--impure lets a flake read the environment', async () => {
  const { events } = await collect(config({ kind: 'flake', ref: `${dir}/main#hydraJobs` }, { impure: true }));
  expect(byAttr(derivations(events)).get('impure')?.name).toBe('impure-from-env-1');
});

test('the CLI takes a relative flake reference and an unknown flake is one line', async () => {
  const run = await runCli(['eval', '--flake', '.#hydraJobs.tests'], { cwd: join(dir, 'main') });
  expect(run.exitCode).toBe(0);
  expect(derivations(run.events).map((d) => d.attr)).toEqual(['unit']);
  const missing = await runCli(['eval', '--flake', `${dir}/nowhere#x`]);
  expect(missing.exitCode).toBe(1);
  expect(missing.stdout).toBe('');
  expect(missing.stderr.trim().split('\n')).toHaveLength(1);
  expect(missing.stderr).toMatch(/^evix: cannot lock flake/);
});
