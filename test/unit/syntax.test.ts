import { expect, test } from 'vitest';
import { formatAttrPath, nixString, nixStringList, parseAttrPath, parsesPlainly } from '../../src/nix/syntax.js';
import { PLAIN_TEXTS } from '../plain-texts.js';

test('nixString escapes what a Nix string literal must', () => {
  expect(nixString('plain')).toBe('"plain"');
  expect(nixString('a"b\\c')).toBe('"a\\"b\\\\c"');
  expect(nixString('line\nnext\ttab\r')).toBe('"line\\nnext\\ttab\\r"');
  expect(nixString('${x} and $y and $${z}')).toBe('"\\${x} and $y and $\\${z}"');
  expect(nixString('ünïcødé')).toBe('"ünïcødé"');
});

test('nixStringList', () => {
  expect(nixStringList([])).toBe('[ ]');
  expect(nixStringList(['a', 'b.c'])).toBe('[ "a" "b.c" ]');
});

test('formatAttrPath quotes only names that are not plain identifiers', () => {
  expect(formatAttrPath([])).toBe('');
  expect(formatAttrPath(['packages', 'x86_64-linux', 'hello'])).toBe('packages.x86_64-linux.hello');
  expect(formatAttrPath(['a.b', 'with space', '1x', "it's"])).toBe('"a.b"."with space"."1x".it\'s');
  expect(formatAttrPath(['if', 'or', 'in2'])).toBe('"if"."or".in2');
  expect(formatAttrPath(['q"', '${x}', ''])).toBe('"q\\""."\\${x}".""');
});

test('parseAttrPath reads dotted paths with quoted names', () => {
  expect(parseAttrPath('')).toEqual([]);
  expect(parseAttrPath('hydraJobs')).toEqual(['hydraJobs']);
  expect(parseAttrPath('a.b.c')).toEqual(['a', 'b', 'c']);
  expect(parseAttrPath('packages."x.y".z')).toEqual(['packages', 'x.y', 'z']);
  expect(parseAttrPath('a.""')).toEqual(['a', '']);
  expect(parseAttrPath('a..b')).toEqual({ error: "empty attribute name in 'a..b'" });
  expect(parseAttrPath('a.')).toEqual({ error: "empty attribute name in 'a.'" });
  expect(parseAttrPath('a."b')).toEqual({ error: `missing closing quote in attribute path 'a."b'` });
});


test('parsesPlainly vouches for a lone number, true, false, null or plain string, never a name Nix must resolve or anything more', () => {
  for (const text of PLAIN_TEXTS) expect(parsesPlainly(text), text).toBe(true);
  for (const text of ['', 'pkgs', 'truex', 'if', 'let', '1 +', '1 + 1', '{ }', './x', '.5', 'a.b', '5 # c', '1\n2', '-']) expect(parsesPlainly(text), text).toBe(false);
  for (const text of ['"${pkgs}"', '"$x"', '"a\\"', '"a" + "b"', '"a" "b"', '"open', "''indented''", '"a"b"']) expect(parsesPlainly(text), text).toBe(false);
});
