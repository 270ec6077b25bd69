import { expect, test } from 'vitest';
import { ReplFramer, markerRequest, parsePrintedJson, splitOutput } from '../../src/worker/repl-framer.js';

const value = (text: string) => `\x1b[35;1m${text}\x1b[0m`;
const marker = (id: number) => `nix-repl> ${markerRequest(id)}\n${value(markerRequest(id))}\n\n`;

test('the marker is a short string literal that prints as itself', () => {
  expect(markerRequest(3)).toBe('"_E3"');
});

test('a response holds the value and the text printed before its marker', () => {
  const framer = new ReplFramer();
  framer.expect(0);
  expect(framer.push(`Welcome to Nix 2.8.0. Type :? for help.\n\nnix-repl> _e[]\n${value('"\\"1\\""')}\n\n`)).toEqual([]);
  expect(framer.push(marker(0))).toEqual([{ id: 0, value: '"\\"1\\""', text: 'Welcome to Nix 2.8.0. Type :? for help.\n\n\n' }]);
  expect(framer.pending).toBe(0);
});

test('pipelined requests split anywhere each get their own value and errors', () => {
  const framer = new ReplFramer();
  framer.expect(0);
  framer.expect(1);
  framer.expect(2);
  const stream =
    `nix-repl> a\n${value('"A"')}\n\n${marker(0)}` +
    `nix-repl> b\ntrace: hello\nerror: boom\n\n       at x.nix:1:2:\n${marker(1)}` +
    `nix-repl> c\n${value('"C"')}\n\n${marker(2)}`;
  const done = [];
  for (let i = 0; i < stream.length; i += 7) done.push(...framer.push(stream.slice(i, i + 7)));
  expect(done.map((r) => [r.id, r.value])).toEqual([
    [0, '"A"'],
    [1, undefined],
    [2, '"C"'],
  ]);
  expect(splitOutput(done[1]!.text)).toEqual({ error: 'boom\n\n       at x.nix:1:2:', log: ['trace: hello'] });
});

test("another request's marker does not end the current one", () => {
  const framer = new ReplFramer();
  framer.expect(5);
  expect(framer.push(value(markerRequest(6)) + '\nerror: stack overflow\n')).toEqual([]);
  expect(framer.pending).toBe(1);
  expect(framer.unframedText).toBe('error: stack overflow\n');
});

test('parsePrintedJson reads the JSON inside a string the repl printed', () => {
  // Printed texts as written here, with `$` spelled S (a template literal cannot hold `${`).
  const printed = (text: string) => text.replaceAll('S', '$');
  // builtins.toJSON { a = "\${x}\\n"; q = "\"\t"; } as Nix 2.8 prints it.
  expect(parsePrintedJson(printed(String.raw`"{\"a\":\"S{x}\\\\n\",\"q\":\"\\\"\\t\"}"`))).toEqual({ a: '${x}\\n', q: '"\t' });
  // Nix versions that escape an interpolation in what they print.
  expect(parsePrintedJson(printed(String.raw`"{\"a\":\"\S{x}\"}"`))).toEqual({ a: '${x}' });
  // A backslash before an interpolation, unescaped (2.8) and escaped.
  expect(parsePrintedJson(printed(String.raw`"[\"\\\\S{y}\"]"`))).toEqual(['\\${y}']);
  expect(parsePrintedJson(printed(String.raw`"[\"\\\\\S{y}\"]"`))).toEqual(['\\${y}']);
  expect(parsePrintedJson('"[1,2]"')).toEqual([1, 2]);
  expect(parsePrintedJson('42')).toBeUndefined();
  expect(parsePrintedJson('"not json"')).toBeUndefined();
});

test('splitOutput separates log lines from the error and drops frames of our helper', () => {
  const text = [
    'trace: from user',
    'warning: something',
    "error: attribute 'x' missing",
    '',
    '       at «string»:1:249:',
    '',
    '            1|  let autoCall = f: args: ...',
    '             |      ^',
    '       Did you mean y?',
  ].join('\n');
  expect(splitOutput(text)).toEqual({
    error: "attribute 'x' missing\n       Did you mean y?",
    log: ['trace: from user', 'warning: something'],
  });
  expect(splitOutput('trace: only\n\n')).toEqual({ error: undefined, log: ['trace: only'] });
});

test("a --show-trace trace keeps the user's entries and drops those whose position is evix's", () => {
  const ours = (header: string, column: number) => [`       … ${header}`, '', `       at «string»:1:${column}:`, '', '            1|  let autoCall = f: args: ...', '             |  ^', ''];
  const text = [
    'error: broken job',
    '',
    "       … while evaluating the attribute 'broken'",
    '',
    '       at /src/jobs.nix:12:5:',
    '',
    '           12|     broken = throw "broken job";',
    '             |     ^',
    '',
    ...ours("while evaluating 'select'", 217),
    ...ours('from call site', 3233),
    ...ours("while evaluating 'describe'", 3219),
  ].join('\n');
  expect(splitOutput(text).error).toBe(
    ["broken job", '', "       … while evaluating the attribute 'broken'", '', '       at /src/jobs.nix:12:5:', '', '           12|     broken = throw "broken job";', '             |     ^'].join('\n'),
  );
});

test('a request the repl takes as unfinished (it echoes the marker after its continuation prompt) ends with a syntax error', () => {
  const framer = new ReplFramer();
  framer.expect(0);
  framer.expect(1);
  // As Nix 2.8 prints `import ./broken.nix` of a file ending mid-expression, then waits.
  const [done] = framer.push(`nix-repl> import ./broken.nix\n          ${markerRequest(0)}\n          ${markerRequest(1)}\n`);
  expect(done).toMatchObject({ id: 0, value: undefined, unfinished: true });
  expect(splitOutput(done!.text).error).toMatch(/^syntax error, unexpected end of file/);
  // An error's source lines are indented too; they are text, not a continuation.
  const other = new ReplFramer();
  other.expect(0);
  expect(other.push(`error: boom\n            1| ${markerRequest(0)}\n${marker(0)}`)).toEqual([{ id: 0, value: undefined, text: `error: boom\n            1| ${markerRequest(0)}\n` }]);
});
