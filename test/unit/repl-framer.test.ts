import { expect, test } from 'vitest';
import { ReplFramer, markerRequest, markerText, parsePrintedString, splitStderr } from '../../src/worker/repl-framer.js';

const value = (text: string) => `\x1b[35;1m${text}\x1b[0m`;
const stdoutMarker = (id: number) => `${value(`"${markerText(id)}"`)}\n`;
const stderrMarker = (id: number) => `trace: ${markerText(id)}\n`;

test('the marker request prints a value unlike its own echo', () => {
  expect(markerRequest(3)).toBe('builtins.trace "__EVIX_END_3" ("__EVIX_END" + "_3")');
});

test('a response completes only when both streams have passed its marker', () => {
  const framer = new ReplFramer();
  framer.expect(0);
  expect(framer.pushStdout(`nix-repl> builtins.toJSON 1\n${value('"\\"1\\""')}\n\nnix-repl> x\n`)).toEqual([]);
  expect(framer.pushStdout(stdoutMarker(0))).toEqual([]);
  expect(framer.pushStderr(stderrMarker(0))).toEqual([{ id: 0, value: '"\\"1\\""', stderr: '' }]);
  expect(framer.pending).toBe(0);
});

test('stderr may arrive first, split anywhere, and carries errors to the right request', () => {
  const framer = new ReplFramer();
  framer.expect(0);
  framer.expect(1);
  const stderr = `Welcome to Nix\n${stderrMarker(0)}error: boom\n       at x.nix:1:2:\n${stderrMarker(1)}`;
  const stdout = `nix-repl> a\n${value('"A"')}\n${stdoutMarker(0)}nix-repl> b\n${stdoutMarker(1)}`;
  const done = [];
  for (let i = 0; i < stderr.length; i += 7) done.push(...framer.pushStderr(stderr.slice(i, i + 7)));
  expect(done).toEqual([]);
  for (let i = 0; i < stdout.length; i += 5) done.push(...framer.pushStdout(stdout.slice(i, i + 5)));
  expect(done).toEqual([
    { id: 0, value: '"A"', stderr: 'Welcome to Nix\n' },
    { id: 1, value: undefined, stderr: 'error: boom\n       at x.nix:1:2:\n' },
  ]);
});

test('a marker for a later request does not close an earlier one', () => {
  const framer = new ReplFramer();
  framer.expect(5);
  framer.pushStderr(stderrMarker(6));
  framer.pushStdout(stdoutMarker(6));
  expect(framer.pending).toBe(1);
  expect(framer.unframedStderr).toBe(`trace: ${markerText(6)}\n`);
});

test('parsePrintedString undoes the repl string escapes', () => {
  expect(parsePrintedString('"plain"')).toBe('plain');
  expect(parsePrintedString('"{\\"a\\":\\"\\${x}\\\\n\\"}"')).toBe('{"a":"${x}\\n"}');
  expect(parsePrintedString('"tab\\tnl\\n"')).toBe('tab\tnl\n');
  expect(parsePrintedString('42')).toBeUndefined();
});

test('splitStderr separates log lines from the error and drops frames of our helper', () => {
  const stderr = [
    'trace: from user',
    "warning: something",
    "error: attribute 'x' missing",
    '',
    '       at «string»:1:249:',
    '',
    '            1|  let autoCall = f: args: ...',
    '             |      ^',
    '       Did you mean y?',
  ].join('\n');
  expect(splitStderr(stderr)).toEqual({
    error: "attribute 'x' missing\n       Did you mean y?",
    log: ['trace: from user', 'warning: something'],
  });
  expect(splitStderr('trace: only\n')).toEqual({ error: undefined, log: ['trace: only'] });
});
