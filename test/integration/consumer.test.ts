/**
 * evix as someone who installs it gets it: the package `npm pack` makes,
 * unpacked into node_modules/evix of a project of its own beside its
 * runtime dependencies. Its declarations are checked by that project's
 * compiler with TypeScript's own defaults (`tsc --init`) and skipLibCheck
 * off, as a consumer's are, and it is imported by an older Node.
 */
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { HAS_NPM, ROOT, olderSystemNode } from '../helpers.js';

const TSC = `${ROOT}node_modules/typescript/bin/tsc`;

// npm packs the package; the roots of other Debian releases that scripts/nix-versions makes have none.
describe.skipIf(!HAS_NPM)(`the package as npm packs it${HAS_NPM ? '' : ' (skipped: no npm on PATH)'}`, () => {
  let project: string;

  beforeAll(async () => {
    project = await mkdtemp(join(tmpdir(), 'evix-consumer-'));
    const packed = await execa('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', project], { cwd: ROOT });
    const [{ filename }] = JSON.parse(packed.stdout) as [{ filename: string }];
    await mkdir(join(project, 'node_modules', 'evix'), { recursive: true });
    await execa('tar', ['-xzf', join(project, filename), '-C', join(project, 'node_modules', 'evix'), '--strip-components=1']);
    const { dependencies } = JSON.parse(await readFile(`${ROOT}package.json`, 'utf8')) as { dependencies: Record<string, string> };
    for (const name of Object.keys(dependencies)) await symlink(`${ROOT}node_modules/${name}`, join(project, 'node_modules', name));
    await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }));
    // TypeScript's defaults for a new project, with the libraries' declarations checked too.
    await execa(process.execPath, [TSC, '--init', '--skipLibCheck', 'false'], { cwd: project });
  });

  afterAll(() => rm(project, { recursive: true, force: true }));

  /** Compiles the files (each a module of their own) in the consumer project: tsc's output and exit code. */
  async function typecheck(files: Record<string, string>): Promise<{ output: string; exitCode: number | undefined }> {
    const dir = await mkdtemp(join(project, 'src-'));
    for (const [name, text] of Object.entries(files)) await writeFile(join(dir, name), text);
    // The project's settings, for these files only.
    await writeFile(join(dir, 'tsconfig.json'), JSON.stringify({ extends: '../tsconfig.json', compilerOptions: { noEmit: true }, include: ['*.ts'] }));
    const result = await execa(process.execPath, [TSC, '-p', dir], { reject: false });
    return { output: result.stdout + result.stderr, exitCode: result.exitCode };
  }

  test('a consumer with TypeScript defaults and skipLibCheck off type-checks evix without @types/node', async () => {
    const main = `
  import { Session, evaluate, isDerivationEvent, type EvaluateOptions } from 'evix';

  const options: EvaluateOptions = {
    workers: 2,
    remoteToken: new TextEncoder().encode('secret'),
    remoteTls: { ca: new TextEncoder().encode('-----BEGIN CERTIFICATE-----') },
    onEvent: (event) => {
      if (isDerivationEvent(event)) console.log(event.drvPath);
    },
  };
  export const run = (config: Parameters<typeof evaluate>[0]) => evaluate(config, options);
  export const open = () => Session.open({ input: { kind: 'expr', expr: '{ }' } }, { workers: 1 });
  `;
    const { output, exitCode } = await typecheck({ 'main.ts': main });
    expect(output).toBe('');
    expect(exitCode).toBe(0);
  });

  test("the README's TypeScript examples type-check against the package", async () => {
    const readme = await readFile(`${ROOT}README.md`, 'utf8');
    const examples = [...readme.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((m) => m[1]!);
    expect(examples.length).toBeGreaterThan(0);
    const { output, exitCode } = await typecheck(Object.fromEntries(examples.map((text, i) => [`readme-${i + 1}.ts`, text])));
    expect(output).toBe('');
    expect(exitCode).toBe(0);
  });

  test('a Node older than evix needs imports the library; a run with the evaluation cache says which Node it needs', async (context) => {
    const old = olderSystemNode();
    if ('missing' in old) return context.skip(old.missing);
    const { path, version } = old;
    const onOldNode = (script: string) => execa(path, ['--input-type=module', '-e', script], { cwd: project, reject: false });

    const imported = await onOldNode("const evix = await import('evix'); console.log(Object.keys(evix).sort().join(' '))");
    expect(imported.stderr).toBe('');
    expect(imported.stdout.split(' ')).toEqual(expect.arrayContaining(['Session', 'evaluate', 'isDerivationEvent']));

    // Only a flake evaluated purely is cached, so only such a run loads the cache.
    const flake = join(project, 'flake');
    await mkdir(flake);
    await writeFile(join(flake, 'flake.nix'), '{ outputs = { self }: { hydraJobs.hello = derivation { name = "hello"; system = "x86_64-linux"; builder = "/bin/sh"; }; }; }\n');
    await execa('nix', ['--extra-experimental-features', 'nix-command flakes', 'flake', 'lock', flake]);
    const cached = await onOldNode(`
  const { Session } = await import('evix');
  const session = await Session.open({ input: { kind: 'flake', ref: '${flake}#hydraJobs' } }, { workers: 1, evalCache: { directory: '${project}/cache', refresh: false } });
  try { for await (const _ of session.stream()); } catch (error) { console.log(error.message); }
  `);
    expect(cached.stderr).toBe('');
    expect(cached.stdout).toBe(`the evaluation cache needs Node.js 22.12 or newer (for node:sqlite), and this is ${version}`);
  });
});
