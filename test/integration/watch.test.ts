/** evix watch: a diff per change, an error line for a broken edit, and on it goes. */
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { CLI, runCli } from '../helpers.js';

const job = (name: string) => `${name} = derivation { name = "${name}"; system = "x86_64-linux"; builder = "/bin/sh"; };`;

test('watch prints a diff after each write, and an error line for a syntax error', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-watch-'));
  const file = join(dir, 'jobs.nix');
  await writeFile(file, `{ ${job('a')} ${job('b')} }\n`);
  const child = execa(CLI, ['watch', '--file', file, '--debounce', '100'], { reject: false, buffer: false });
  const updates: Array<Record<string, unknown>> = [];
  let pending = '';
  const waiters: Array<() => void> = [];
  child.stdout.on('data', (chunk: Buffer) => {
    pending += chunk.toString();
    for (let at = pending.indexOf('\n'); at !== -1; at = pending.indexOf('\n')) {
      updates.push(JSON.parse(pending.slice(0, at)) as Record<string, unknown>);
      pending = pending.slice(at + 1);
      waiters.splice(0).forEach((w) => w());
    }
  });
  const next = async (count: number) => {
    while (updates.length < count) await new Promise<void>((resolve) => waiters.push(resolve));
    return updates[count - 1]!;
  };
  const names = (list: unknown) => (list as Array<{ attr: string }>).map((d) => d.attr);
  try {
    const first = await next(1);
    expect(names(first.added)).toEqual(['a', 'b']);

    await writeFile(file, `{ ${job('a')} ${job('c')} }\n`);
    const second = await next(2);
    expect([names(second.added), names(second.removed), names(second.changed)]).toEqual([['c'], ['b'], []]);

    await writeFile(file, `{ ${job('a')} c = ; }\n`);
    const third = await next(3);
    expect(third.error).toMatch(/syntax error/);

    await writeFile(file, `{ ${job('a')} ${job('c')} ${job('d')} }\n`);
    const fourth = await next(4);
    expect(names(fourth.added)).toEqual(['d']);
  } finally {
    child.kill('SIGINT');
    await child;
  }
});

test('output written into the watched directory does not feed the watch', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'evix-watch-out-'));
  const file = join(dir, 'jobs.nix');
  const out = join(dir, 'out.jsonl');
  await writeFile(file, `{ ${job('a')} }\n`);
  const child = execa('sh', ['-c', `exec "$0" watch --file "$1" --debounce 100 > "$2"`, CLI, file, out], { reject: false });
  const lines = async () => (await readFile(out, 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length;
  const settle = async (count: number) => {
    for (let i = 0; i < 100 && (await lines()) < count; i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 1500));
    return lines();
  };
  try {
    expect(await settle(1)).toBe(1);
    await writeFile(file, `{ ${job('a')} ${job('b')} }\n`);
    expect(await settle(2)).toBe(2);
  } finally {
    child.kill('SIGINT');
    await child;
  }
});

test('watch refuses inputs with nothing local to watch', async () => {
  const expr = await runCli(['watch', '--expr', '{ }']);
  expect(expr.exitCode).toBe(2);
  expect(expr.stderr).toMatch(/needs a file or a local flake \(--file or --flake\)/);
  const remote = await runCli(['watch', '--flake', 'github:NixOS/nixpkgs#hello']);
  expect(remote.exitCode).toBe(2);
  expect(remote.stderr).toMatch(/needs a flake on this machine/);
});
