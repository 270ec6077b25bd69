/**
 * One-shot Nix commands the master runs before the walk: locking a flake and
 * checking that expressions parse. Failures come back as one-line messages.
 */
import { execFile, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import { nixEnvironment } from './environment.js';
import { parsesPlainly } from './syntax.js';

export const FLAKE_FEATURES = ['--extra-experimental-features', 'nix-command flakes'];

/** Thrown with a one-line, user-facing message. */
export class NixCommandError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'NixCommandError';
  }
}

/** A command that ended by a signal, not by its own exit. */
class NixKilledError extends NixCommandError {}

/**
 * Runs a Nix command; resolves its stdout or throws NixCommandError with
 * Nix's error line. node:child_process rather than execa: these commands
 * are on the path of every flake run, cached ones included, and execa's
 * import alone took about 110 ms of a 270 ms cache hit here.
 *
 * A command started early by startNixEarly() with the same arguments and
 * directory is taken instead of running it again.
 */
export async function runNix(command: string, args: string[], options: { cwd: string; input?: string }): Promise<string> {
  const early = options.input === undefined ? takeEarly(earlyKey(command, args, options.cwd)) : undefined;
  let running = early ?? spawnNix(command, args, options);
  for (let run = 1; ; run++) {
    try {
      return await running.output;
    } catch (error) {
      if (!(error instanceof NixKilledError) || run >= RUNS_WHEN_KILLED) throw error;
      running = spawnNix(command, args, options);
    }
  }
}

/**
 * Runs of a command killed by a signal: the kill came from outside (the
 * OOM killer, a stray `kill`) and says nothing of its input, so it is run
 * again; these commands only read. Before, a killed parse check failed the
 * run as a syntax error of the expression it was checking.
 */
const RUNS_WHEN_KILLED = 3;

/**
 * Starts a command whose output a later runNix() with the same command,
 * arguments and directory will take: a head start for the commands a short
 * run waits on, begun while the rest of the program loads. Until taken it
 * keeps the process neither alive nor waiting; one never taken is killed at
 * exit.
 */
export function startNixEarly(command: string, args: string[], options: { cwd: string }): void {
  const key = earlyKey(command, args, options.cwd);
  if (earlyCommands.has(key)) return;
  if (!killingAtExit) process.once('exit', () => earlyCommands.forEach(({ child }) => child.kill()));
  killingAtExit = true;
  const early = spawnNix(command, args, options);
  // Awaited by runNix when the run takes it (its failure is reported there), killed at exit otherwise.
  early.output.catch(() => {});
  setReferenced(early.child, false);
  earlyCommands.set(key, early);
}

interface RunningNix {
  child: ChildProcess;
  output: Promise<string>;
}

const earlyCommands = new Map<string, RunningNix>();
let killingAtExit = false;

function takeEarly(key: string): RunningNix | undefined {
  const early = earlyCommands.get(key);
  if (!early) return undefined;
  earlyCommands.delete(key);
  setReferenced(early.child, true);
  return early;
}

const earlyKey = (command: string, args: readonly string[], cwd: string) => JSON.stringify([command, args, cwd]);

/** Whether the child (its process and output pipes) keeps the event loop alive. */
function setReferenced(child: ChildProcess, referenced: boolean): void {
  for (const handle of [child, child.stdout as Socket | null, child.stderr as Socket | null]) {
    if (referenced) handle?.ref();
    else handle?.unref();
  }
}

function spawnNix(command: string, args: string[], options: { cwd: string; input?: string }): RunningNix {
  let child!: ChildProcess;
  const output = new Promise<string>((resolve, reject) => {
    child = execFile(command, args, { cwd: options.cwd, env: nixEnvironment(), maxBuffer: 256 * 1024 * 1024, encoding: 'utf8' }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const code = (error as NodeJS.ErrnoException).code;
      if (typeof code === 'string') return reject(new NixCommandError(`cannot run ${command}: ${code === 'ENOENT' ? 'not found on PATH' : error.message}`));
      if (error.signal) return reject(new NixKilledError(`${command} was killed by ${error.signal}`));
      reject(new NixCommandError(firstErrorLine(stderr) ?? `${command} failed with exit code ${String(code ?? 'unknown')}`));
    });
    child.stdin?.on('error', () => {});
    child.stdin?.end(options.input ?? '');
  });
  return { child, output };
}

/** The first `error:` line of Nix's output, without the prefix, with its location when Nix gave one. */
export function firstErrorLine(stderr: string): string | undefined {
  const lines = stderr.split('\n');
  const at = lines.findIndex((l) => l.startsWith('error:'));
  if (at === -1) return lines.find((l) => l.trim() !== '')?.trim();
  return summarizeNixError(lines.slice(at).join('\n').slice('error:'.length));
}

/** Nix's multi-line error message as one line: its first line and the first source location. */
export function summarizeNixError(message: string): string {
  const lines = message.trim().split('\n');
  const first = lines[0]!.trim();
  const location = lines.slice(1).find((l) => /^\s*at .+:\d+:\d+:$/.test(l));
  return location ? `${first} (${location.trim().replace(/:$/, '')})` : first;
}

/** An expression from the command line and the option it came from, for messages. */
export interface LabelledExpression {
  label: string;
  text: string;
}

/**
 * Checks that every expression is syntactically valid Nix, so the repl never
 * waits on an unfinished one. One nix-instantiate for all of them; only when
 * that fails, one each, to name the culprit. Throws NixCommandError.
 */
export async function checkParse(all: readonly LabelledExpression[], cwd: string): Promise<void> {
  const expressions = all.filter((e) => !parsesPlainly(e.text));
  if (expressions.length === 0) return;
  const parse = (text: string) => runNix('nix-instantiate', ['--parse', '-'], { cwd, input: text });
  const together = expressions.length === 1 ? undefined : `[ ${expressions.map((e) => `(${e.text}\n)`).join(' ')} ]`;
  if (together !== undefined && (await parse(together).then(() => true, () => false))) return;
  for (const e of expressions) {
    await parse(e.text).catch((error: Error) => Promise.reject(new NixCommandError(`${e.label}: ${error.message}`)));
  }
}
