/** The library as the README shows it: the README's example is run as it is. */
import { readFile, rm, writeFile } from 'node:fs/promises';
import { execa } from 'execa';
import { expect, test } from 'vitest';
import { setTimeout as sleep } from 'node:timers/promises';
import { EvaluationFailed, Session } from '../../src/index.js';
import { MAX_CHUNK_RESULTS } from '../../src/master/chunk-pace.js';
import type { RunSnapshot } from '../../src/master/run.js';
import { LOCAL_PIPELINE_DEPTH } from '../../src/worker/local-worker.js';
import { FIXTURES, ROOT, derivations } from '../helpers.js';

test("the README's library example runs and prints what it says", async () => {
  const readme = await readFile(`${ROOT}README.md`, 'utf8');
  const example = /## Library\n\n```ts\n([\s\S]*?)```/.exec(readme)?.[1];
  expect(example).toBeDefined();
  // Inside the package, so that `import ... from 'evix'` resolves to this package (dist/).
  const file = `${ROOT}readme-example.generated.ts`;
  await writeFile(file, example!);
  try {
    const { stdout } = await execa(process.execPath, [file], { cwd: ROOT });
    const lines = stdout.trim().split('\n');
    expect(lines).toContain('2 jobs under tools');
    expect(lines.at(-1)).toBe('0 added, 0 changed, 1 errors');
    expect(lines.filter((l) => l.includes('/nix/store/'))).toHaveLength(4);
  } finally {
    await rm(file);
  }
});

test('stream() is single-use; a fatal error throws and leaves no warm graph', async () => {
  const session = await Session.open({ input: { kind: 'file', path: `${FIXTURES}/wide.nix` }, autoArgs: [{ name: 'count', kind: 'expr', value: '20' }] });
  expect(session.warm).toBe(false);
  const events = [];
  for await (const event of session.stream()) events.push(event);
  expect(derivations(events)).toHaveLength(20);
  expect(session.warm).toBe(true);
  expect(session.querySnapshot({ attrs: ['g0'] })).toHaveLength(10);
  await expect(async () => {
    for await (const _ of session.stream()) break;
  }).rejects.toThrow(/once/);

  const broken = await Session.open({ input: { kind: 'expr', expr: 'throw "no root"' } });
  await expect(async () => {
    for await (const _ of broken.stream());
  }).rejects.toThrow(EvaluationFailed);
  expect(() => broken.querySnapshot()).toThrow(/no warm graph/);
});

test('stream() holds the walk back while the caller does not take events', async () => {
  let snapshot: (() => RunSnapshot) | undefined;
  const count = 20_000;
  const session = await Session.open(
    { input: { kind: 'file', path: `${FIXTURES}/wide.nix` }, autoArgs: [{ name: 'count', kind: 'expr', value: String(count) }] },
    { observe: (s) => (snapshot = s) },
  );
  const events = [];
  for await (const event of session.stream()) {
    events.push(event);
    if (events.length === 1) {
      await sleep(2000);
      // What is answered while the caller sleeps: the events the stream keeps
      // for it (256) and the chunks its one worker held when it filled.
      expect(snapshot!().completed).toBeLessThan(256 + LOCAL_PIPELINE_DEPTH * MAX_CHUNK_RESULTS);
    }
  }
  expect(derivations(events)).toHaveLength(count);
});
