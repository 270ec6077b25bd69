/**
 * Evaluator deaths with real processes: `evix eval` runs while a fault
 * injector SIGKILLs its nix children (each worker's `nix repl` and its
 * sweeps' `nix-instantiate`) at random moments, from the start (children
 * still setting up) to the end. Nothing is lost, nothing
 * is doubled, and no attribute is blamed for a kill that came from outside;
 * an attribute that kills its evaluator by itself is one error event.
 */
import { execa } from 'execa';
import { setTimeout as sleep } from 'node:timers/promises';
import { expect, test } from 'vitest';
import { isErrorEvent, type EvalEvent } from '../../src/events.js';
import { CLI, FIXTURES, ROOT, derivationSet, derivations, errors, replDiesOfStackOverflow, runCli } from '../helpers.js';

const BASE = ['eval', '--no-daemon', '--no-eval-cache', '--workers', '2'];

/** The pids of the evaluators among the children of `parent`: each worker's repl and sweeps (a killed setup command, such as the parse check, is resilience.test.ts's). */
async function nixChildren(parent: number): Promise<number[]> {
  const { stdout } = await execa('pgrep', ['-P', String(parent), '-f', '^(nix repl|nix-instantiate --eval --strict)'], { reject: false });
  return stdout.split('\n').filter(Boolean).map(Number);
}

/** Kills one `kills` times, each after a pause of `minMs`..`maxMs`. */
interface KillPhase {
  kills: number;
  minMs: number;
  maxMs: number;
}

/**
 * Runs `evix` with `args`, killing one of its nix children at random in
 * each phase in turn, until the phases are done or the run ended. Returns
 * the run's events and how many kills it took.
 */
async function runKilling(args: string[], phases: KillPhase[]): Promise<{ events: EvalEvent[]; killed: number; exitCode: number | undefined }> {
  const run = execa(CLI, [...args], { cwd: ROOT, reject: false });
  let ended = false;
  const finished = run.finally(() => (ended = true));
  let killed = 0;
  let planned = 0;
  for (const { kills, minMs, maxMs } of phases) {
    planned += kills;
    while (!ended && killed < planned) await killOne(run.pid!, minMs + Math.random() * (maxMs - minMs)).then((k) => (killed += k));
  }
  const result = await finished;
  const events = result.stdout
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as EvalEvent);
  return { events, killed, exitCode: result.exitCode };
}

/** After `pauseMs`, SIGKILLs one nix child of `parent` at random; how many it killed (0 or 1). */
async function killOne(parent: number, pauseMs: number): Promise<number> {
  await sleep(pauseMs);
  const children = await nixChildren(parent);
  const victim = children[Math.floor(Math.random() * children.length)];
  if (victim === undefined) return 0;
  try {
    process.kill(victim, 'SIGKILL');
    return 1;
  } catch {
    return 0; // It ended on its own meanwhile.
  }
}

test('50 kills over a run of slow attributes lose and double nothing', async () => {
  // Slow enough that 50 kills, 40 ms apart on average, land before the end
  // (the default work ends in 0.4 s on a fast 2-core machine).
  const args = [...BASE, '--file', `${FIXTURES}/slow.nix`, '--arg', 'work', '120000'];
  const clean = await runCli(args);
  expect(clean.exitCode).toBe(0);
  expect(derivations(clean.events)).toHaveLength(240);

  const disturbed = await runKilling(args, [{ kills: 50, minMs: 20, maxMs: 60 }]);
  expect(disturbed.killed).toBeGreaterThanOrEqual(20);
  expect(disturbed.exitCode).toBe(0);
  expect(errors(disturbed.events)).toEqual([]);
  expect(derivationSet(disturbed.events)).toEqual(derivationSet(clean.events));
});

// Writing its 40000 .drv files the first time takes a minute on Nix 2.26.
test('200 kills over a run of many small attributes, a burst during setup first, lose and double nothing', async () => {
  const args = [...BASE, '--file', `${FIXTURES}/wide.nix`, '--arg', 'count', '40000'];
  const clean = await runCli(args);
  expect(derivations(clean.events)).toHaveLength(40000);

  // A burst while the children are still starting, then kills spread over the run.
  const disturbed = await runKilling(args, [{ kills: 20, minMs: 5, maxMs: 30 }, { kills: 180, minMs: 30, maxMs: 120 }]);
  // How many land depends on how long the run lasts, and sweeps (one read-only process per
  // worker) made it short: about a second undisturbed. It must still be many.
  expect(disturbed.killed).toBeGreaterThanOrEqual(20);
  expect(disturbed.exitCode).toBe(0);
  expect(errors(disturbed.events)).toEqual([]);
  expect(derivationSet(disturbed.events)).toEqual(derivationSet(clean.events));
}, 240_000);

test('an attribute that overflows the stack is one error event (a death where the repl dies of it), and its siblings are answered', async () => {
  const expr = `let mk = n: derivation { name = n; system = "x86_64-linux"; builder = "/bin/sh"; }; in {
    a = mk "a"; b = mk "b"; c = mk "c"; overflow = let f = n: 1 + f (n + 1); in f 0; d = mk "d"; e = mk "e";
  }`;
  const { events, exitCode } = await runCli([...BASE, '--expr', expr]);
  expect(exitCode).toBe(0);
  expect(derivations(events).map((d) => d.attr).sort()).toEqual(['a', 'b', 'c', 'd', 'e']);
  const failed = events.filter(isErrorEvent);
  expect(failed).toHaveLength(1);
  expect(failed[0]).toMatchObject({ attr: 'overflow', fatal: false });
  // Nix 2.8's repl dies of it; newer ones report it (max-call-depth) and go on.
  const died = /^the nix evaluator died evaluating this attribute \(2 times\): exit code 1: stack overflow/;
  expect(failed[0]!.error).toMatch((await replDiesOfStackOverflow()) ? died : /^stack overflow; max-call-depth exceeded/);
});
