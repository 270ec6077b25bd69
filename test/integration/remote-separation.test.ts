/**
 * A remote worker that does not see what the master sees: its own empty
 * Nix store and no view of the master's files (tmpfs over both, in a mount
 * namespace: another machine, as far as Nix can tell). The master ships
 * the sources; the worker gives exactly what a local run gives. Needs root
 * (CI runs as root); skipped otherwise.
 */
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { derivationSet, errors, runCli } from '../helpers.js';
import { startWorker, type WorkerProcess } from '../workers.js';

const skip = process.getuid?.() !== 0 ? 'not root' : undefined;
const skipNote = skip ? ` (skipped: ${skip})` : '';

let base: string;
let checkout: string;
let worker: WorkerProcess;

const git = (cwd: string, ...args: string[]) => execa('git', ['-c', 'user.email=ci@evix', '-c', 'user.name=ci', ...args], { cwd });

beforeAll(async () => {
  if (skip) return;
  base = await mkdtemp(join(tmpdir(), 'evix-separate-'));
  // An input flake given by path, and a git flake with an uncommitted change that reads its rev and date.
  const dep = join(base, 'dep');
  await mkdir(dep);
  await writeFile(join(dep, 'flake.nix'), '{ outputs = { self }: { greeting = "from the input"; }; }\n');
  await mkdir(join(base, 'other'));
  await writeFile(join(base, 'other', 'flake.nix'), '{ outputs = { self }: { greeting = "from the override"; }; }\n');
  checkout = join(base, 'checkout');
  await mkdir(join(checkout, 'data'), { recursive: true });
  await writeFile(
    join(checkout, 'flake.nix'),
    `{
  inputs.dep.url = "path:${dep}";
  outputs = { self, dep }: {
    hydraJobs = {
      fromInput = derivation { name = "from-input"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" dep.greeting ]; };
      fromSelf = derivation {
        name = "self-\${self.lastModifiedDate}";
        system = "x86_64-linux";
        builder = "/bin/sh";
        rev = self.rev or "dirty";
        data = ./data;
      };
    };
  };
}
`,
  );
  await writeFile(join(checkout, 'data', 'x'), 'committed\n');
  await git(checkout, 'init', '-q');
  await git(checkout, 'add', '-A');
  await git(checkout, 'commit', '-qm', 'init');
  await writeFile(join(checkout, 'data', 'x'), 'uncommitted\n');
  // A file that imports a sibling and copies it.
  const files = join(base, 'files');
  await mkdir(files);
  await writeFile(join(files, 'lib.nix'), '{ name = "sibling"; }\n');
  await writeFile(
    join(files, 'jobs.nix'),
    'let lib = import ./lib.nix; in { a = derivation { name = lib.name; system = "x86_64-linux"; builder = "/bin/sh"; src = ./lib.nix; }; }\n',
  );
  worker = await startWorker(['--listen', '127.0.0.1:0', '--insecure'], { hide: [base, '/nix'] });
});
afterAll(async () => {
  if (!skip) await worker.stop();
});

/** The same evaluation locally and on the separated worker alone (-v: its log says what was shipped). */
async function localAndRemote(input: string[]) {
  const common = ['eval', '--no-daemon', '--no-eval-cache', ...input];
  const local = await runCli([...common, '--workers', '1']);
  const remote = await runCli([...common, '--workers', '0', '--remote', `127.0.0.1:${worker.port}`, '', '1', '-v']);
  expect(local.exitCode).toBe(0);
  expect(remote.exitCode, remote.stderr).toBe(0);
  return { local, remote };
}

const shippedBytes = (stderr: string) => Number(/shipped sources \(.*bytes=(\d+)/.exec(stderr)?.[1] ?? 0);

test.skipIf(skip !== undefined)(`a dirty git flake with a path input: shipped once, exactly the local derivations${skipNote}`, async () => {
  const flake = ['--flake', `${checkout}#hydraJobs`];
  const first = await localAndRemote(flake);
  expect(derivationSet(first.remote.events)).toEqual(derivationSet(first.local.events));
  expect(derivationSet(first.local.events)).toHaveLength(2);
  expect(errors(first.remote.events)).toEqual([]);
  // The flake's source and its input's.
  expect(first.remote.stderr).toMatch(/shipped sources \(.*sources=2/);
  expect(shippedBytes(first.remote.stderr)).toBeGreaterThan(0);

  const second = await localAndRemote(flake);
  expect(derivationSet(second.remote.events)).toEqual(derivationSet(first.local.events));
  expect(shippedBytes(second.remote.stderr)).toBe(0);
  expect(second.remote.stderr).not.toMatch(/shipping sources/);

  // An input overridden on the master's command line is what the worker gets (the dirty root included).
  const overridden = await localAndRemote([...flake, '--override-input', 'dep', `path:${join(base, 'other')}`]);
  expect(derivationSet(overridden.remote.events)).toEqual(derivationSet(overridden.local.events));
  expect(derivationSet(overridden.local.events)).not.toEqual(derivationSet(first.local.events));
});

test.skipIf(skip !== undefined)(`a --file importing a sibling, and an --expr reading an -I entry, evaluate on the worker as they do here${skipNote}`, async () => {
  const file = await localAndRemote(['--file', join(base, 'files', 'jobs.nix')]);
  expect(derivationSet(file.remote.events)).toEqual(derivationSet(file.local.events));
  expect(derivationSet(file.local.events)).toHaveLength(1);

  const expr = await localAndRemote(['--expr', 'import <files/jobs.nix>', '-I', `files=${join(base, 'files')}`]);
  expect(derivationSet(expr.remote.events)).toEqual(derivationSet(file.local.events));
});

test.skipIf(skip !== undefined)(`the worker's own files stay out of reach: the master reads only what it ships${skipNote}`, async () => {
  const remote = ['--workers', '0', '--remote', `127.0.0.1:${worker.port}`, '', '1'];
  const probe = await runCli([
    'eval', '--no-daemon', '--no-eval-cache', ...remote,
    '--file', join(base, 'files', 'jobs.nix'),
    '--select', 'r: { x = builtins.readFile /etc/hostname; y = builtins.readDir /root; }',
  ]);
  // Nix 2.26 names the first directory it may not enter, 2.8 the file.
  expect(probe.events.map((e) => ('error' in e ? e.error : e))).toEqual([
    expect.objectContaining({ attrs: ['x', 'y'] }),
    expect.stringMatching(/^access to absolute path '\/etc(\/hostname)?' is forbidden in restricted mode$/),
    "access to absolute path '/root' is forbidden in restricted mode",
  ]);
});
