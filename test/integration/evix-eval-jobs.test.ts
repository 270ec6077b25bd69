/**
 * evix-eval-jobs, the drop-in for nix-eval-jobs: its command line as Nix
 * reads it, its lines, stderr and exit statuses, checked with real Nix.
 */
import { mkdtemp, mkdir, readdir, readlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { beforeAll, expect, test } from 'vitest';
import type { DerivationEvent } from '../../src/events.js';
import { CLI, FIXTURES, ROOT, expectMatchesNix, replDiesOfStackOverflow, viaNixInstantiate } from '../helpers.js';

const DROP_IN = `${ROOT}dist/bin/evix-eval-jobs.js`;
const DROPIN = `${FIXTURES}/dropin.nix`;
const FEATURES = ['--extra-experimental-features', 'nix-command flakes'];

interface Run {
  lines: Array<Record<string, unknown>>;
  stdout: string;
  stderr: string;
  exitCode: number | undefined;
}

async function nixEvalJobs(args: string[], options: { cwd?: string; input?: string; via?: 'evix' } = {}): Promise<Run> {
  const [program, argv] = options.via === 'evix' ? [CLI, ['nix-eval-jobs', ...args]] : [DROP_IN, args];
  const result = await execa(program, argv, { cwd: options.cwd ?? ROOT, reject: false, ...(options.input !== undefined ? { input: options.input } : {}) });
  const lines = result.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
  return { lines, stdout: result.stdout, stderr: result.stderr, exitCode: result.exitCode };
}

const byAttr = (run: Run) => new Map(run.lines.map((l) => [l.attr as string, l]));

let flake: string;
beforeAll(async () => {
  flake = await mkdtemp(join(tmpdir(), 'evix-nej-'));
  await mkdir(flake, { recursive: true });
  await writeFile(
    join(flake, 'flake.nix'),
    `{
  outputs = { self }: let mk = name: derivation { inherit name; system = "x86_64-linux"; builder = "/bin/sh"; }; in {
    hydraJobs = { one = mk "one"; nested = { recurseForDerivations = true; two = mk "two"; }; };
    deep.overflow = { broken = let f = n: 1 + f (n + 1); in derivation { name = "x\${toString (f 0)}"; system = "x86_64-linux"; builder = "/bin/sh"; }; fine = mk "fine"; };
  };
}
`,
  );
});

test('a file as the argument: derivation and error lines as nix-eval-jobs prints them, each error on stderr too', async () => {
  const roots = await mkdtemp(join(tmpdir(), 'evix-nej-roots-'));
  const run = await nixEvalJobs(['--meta', '--gc-roots-dir', roots, DROPIN, '--select', 'r: r.hydraJobs']);
  expect(run.exitCode, run.stderr).toBe(0);
  const lines = byAttr(run);
  expect([...lines.keys()].sort()).toEqual(['"a.b".c', 'big', 'broken', 'plain', 'versioned', 'vm']);
  for (const line of run.lines) expect(Object.keys(line)).toEqual(Object.keys(line).sort());
  expect(lines.get('broken')).toEqual({ attr: 'broken', attrPath: ['broken'], error: 'error: broken job' });
  expect(run.stderr).toContain('error: broken job');
  expect(lines.get('plain')).toMatchObject({ meta: null, requiredSystemFeatures: [] });
  const drvs = run.lines.filter((l) => 'drvPath' in l) as unknown as DerivationEvent[];
  await expectMatchesNix(viaNixInstantiate(`(import ${DROPIN}).hydraJobs`), drvs);
  // One GC root per derivation, named after the .drv, pointing at it.
  expect((await readdir(roots)).sort()).toEqual(drvs.map((d) => d.drvPath.slice('/nix/store/'.length)).sort());
  for (const d of drvs) expect(await readlink(join(roots, d.drvPath.slice('/nix/store/'.length)))).toBe(d.drvPath);
});

test('an expression with -E, and arguments from the command line, a file and standard input', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-nej-arg-'));
  await writeFile(join(dir, 'c.txt'), 'from-file');
  const expr = '{ a, b, c, d }: { job = derivation { name = "${toString a}-${b}-${c}-${d}"; system = "x86_64-linux"; builder = "/bin/sh"; }; }';
  const run = await nixEvalJobs(['-E', expr, '--arg', 'a', '1 + 1', '--argstr', 'b', 'str', '--arg-from-file', 'c', 'c.txt', '--arg-from-stdin', 'd'], { cwd: dir, input: 'stdin' });
  expect(run.exitCode, run.stderr).toBe(0);
  expect(run.lines.map((l) => l.name)).toEqual(['2-str-from-file-stdin']);
});

test("Nix's settings are flags, as Nix reads them; an unknown one is Nix's usage error", async () => {
  const accepted = await nixEvalJobs([...FEATURES, '--no-allow-import-from-derivation', '--allowed-uris', 'https://example.org', '--option', 'frobnicate', '1', DROPIN, '--select', 'r: r.hydraJobs']);
  expect(accepted.exitCode, accepted.stderr).toBe(0);
  expect(accepted.lines).toHaveLength(6);
  expect(accepted.stderr).toContain("warning: unknown setting 'frobnicate'");
  const refused = await nixEvalJobs(['--frobnicate', DROPIN]);
  expect(refused).toMatchObject({ exitCode: 1, stdout: '', stderr: "error: unrecognised flag '--frobnicate'\nTry 'evix-eval-jobs --help' for more information." });
  const twoArguments = await nixEvalJobs([DROPIN, DROPIN]);
  expect(twoArguments.stderr).toMatch(/^error: unexpected argument/);
  expect(twoArguments.exitCode).toBe(1);
});

test('--flake with a fragment, and without one where --select gets the flake itself', async () => {
  const withFragment = await nixEvalJobs([...FEATURES, '--flake', `${flake}#hydraJobs`]);
  expect(withFragment.exitCode, withFragment.stderr).toBe(0);
  expect(withFragment.lines.map((l) => l.attr).sort()).toEqual(['nested.two', 'one']);
  const selected = await nixEvalJobs([...FEATURES, '--flake', flake, '--select', 'flake: flake.outputs.hydraJobs']);
  // The same lines; their order is the order answers came in.
  const sorted = (run: Run) => [...run.lines].sort((a, b) => String(a.attr).localeCompare(String(b.attr)));
  expect(sorted(selected)).toEqual(sorted(withFragment));
  const missing = await nixEvalJobs([...FEATURES, '--flake', `${flake}#nope`]);
  expect(missing.exitCode).toBe(1);
  expect(missing.stdout).toBe('');
  expect(missing.stderr).toMatch(/^error: .*nope/m);
});

test('an attribute that overflows the stack is an error line, the others are evaluated; where it kills the evaluator the exit status is 1', async () => {
  const run = await nixEvalJobs([...FEATURES, '--flake', `${flake}#deep.overflow`]);
  expect(byAttr(run).get('fine')).toMatchObject({ name: 'fine' });
  if (await replDiesOfStackOverflow()) {
    // As nix-eval-jobs does when a worker dies.
    expect(run.exitCode).toBe(1);
    expect(byAttr(run).get('broken')?.error).toMatch(/^error: the nix evaluator died evaluating this attribute .*possible infinite recursion/);
    expect(run.stderr).toMatch(/stack overflow \(possible infinite recursion\)\n(.*\n)*error: the nix evaluator died evaluating 'broken'; every other attribute was evaluated/);
  } else {
    // Newer Nix report it (max-call-depth) and go on: an error line like any other.
    expect(run.exitCode).toBe(0);
    expect(byAttr(run).get('broken')?.error).toMatch(/^error: stack overflow; max-call-depth exceeded/);
  }
});

test('--no-instantiate leaves out what comes from the .drv and the GC roots, and refuses what needs them', async () => {
  const roots = await mkdtemp(join(tmpdir(), 'evix-nej-roots-'));
  const run = await nixEvalJobs(['--no-instantiate', '--gc-roots-dir', roots, DROPIN, '--select', 'r: r.hydraJobs']);
  expect(run.exitCode, run.stderr).toBe(0);
  const plain = byAttr(run).get('plain')!;
  expect(plain).toHaveProperty('drvPath');
  expect(plain).not.toHaveProperty('requiredSystemFeatures');
  expect(await readdir(roots)).toEqual([]);
  const refused = await nixEvalJobs(['--no-instantiate', '--show-input-drvs', '--check-cache-status', DROPIN]);
  expect(refused.exitCode).toBe(1);
  expect(refused.stderr).toContain('error: --no-instantiate is incompatible with: --show-input-drvs, --check-cache-status. These features require instantiated derivations.');
});

test('--constituents puts the constituent fields on every derivation; without it, on none', async () => {
  const file = `${FIXTURES}/constituents.nix`;
  const select = ['--select', 'r: removeAttrs r [ "cycleA" "cycleB" ]'];
  const without = await nixEvalJobs([file, ...select]);
  expect(without.lines.some((l) => 'constituents' in l || 'namedConstituents' in l)).toBe(false);
  const withIt = byAttr(await nixEvalJobs([file, ...select, '--constituents']));
  expect(withIt.get('a')).toMatchObject({ constituents: [], namedConstituents: [], globConstituents: false });
  expect(withIt.get('missing')).toMatchObject({ name: 'missing', error: 'nope: does not exist\n' });
  expect(withIt.get('missing')).not.toHaveProperty('namedConstituents');
});

test('--reference-lock-file and --override-flake choose the inputs the flake is locked with', async () => {
  const root = await mkdtemp(join(tmpdir(), 'evix-nej-lock-'));
  const flakeWith = async (dir: string, text: string) => {
    await mkdir(join(root, dir), { recursive: true });
    await writeFile(join(root, dir, 'flake.nix'), text);
  };
  await flakeWith('dep1', '{ outputs = { self }: { version = "1"; }; }\n');
  await flakeWith('dep2', '{ outputs = { self }: { version = "2"; }; }\n');
  const main = (dep: string) =>
    `{ inputs.dep.url = "${dep}"; outputs = { self, dep }: { jobs.v = derivation { name = "v\${dep.version}"; system = "x86_64-linux"; builder = "/bin/sh"; }; }; }\n`;
  await flakeWith('main', main(`path:${root}/dep1`));
  await flakeWith('other', main(`path:${root}/dep2`));
  for (const dir of ['main', 'other']) await execa('nix', [...FEATURES, 'flake', 'lock', join(root, dir)]);
  // No global registry to download: only the override names a flake.
  await writeFile(join(root, 'registry.json'), '{ "flakes": [], "version": 2 }');
  const names = async (...args: string[]) => {
    const run = await nixEvalJobs([...FEATURES, '--flake-registry', join(root, 'registry.json'), '--flake', `${root}/main#jobs`, ...args]);
    expect(run.exitCode, run.stderr).toBe(0);
    return run.lines.map((l) => l.name);
  };
  expect(await names()).toEqual(['v1']);
  expect(await names('--reference-lock-file', join(root, 'other', 'flake.lock'))).toEqual(['v2']);
  expect(await names('--override-flake', 'evix-test-dep', `path:${root}/dep2`, '--override-input', 'dep', 'flake:evix-test-dep')).toEqual(['v2']);
});

test('--eval-store: the evaluators evaluate in that store and write .drv files there', async () => {
  const store = await mkdtemp(join(tmpdir(), 'evix-nej-store-'));
  const run = await nixEvalJobs(['--eval-store', store, '-E', '{ job = derivation { name = "evix-eval-store-test"; system = "x86_64-linux"; builder = "/bin/sh"; }; }']);
  expect(run.exitCode, run.stderr).toBe(0);
  const drvPath = run.lines[0]!.drvPath as string;
  expect(await readdir(join(store, 'nix', 'store'))).toContain(drvPath.slice('/nix/store/'.length));
  const refused = await nixEvalJobs(['--eval-store', store, '--gc-roots-dir', store, DROPIN]);
  expect(refused).toMatchObject({ exitCode: 1, stdout: '', stderr: 'error: --eval-store cannot be combined with --gc-roots-dir yet' });
});

test('--help prints the flags on stdout, through either entry point', async () => {
  for (const via of [undefined, 'evix'] as const) {
    const run = await nixEvalJobs(['--help'], via ? { via } : {});
    expect(run.exitCode).toBe(0);
    expect(run.stdout).toMatch(/^USAGE: nix-eval-jobs \[options\] expr\n/);
    expect(run.stdout).toContain('  --no-instantiate ');
  }
});
