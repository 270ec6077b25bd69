import { expect, test } from 'vitest';
import { parseInputDrvs } from '../../src/nix/derivation-file.js';

test('reads inputDrvs from a .drv', () => {
  const drv =
    'Derive([("dev","/nix/store/a-x-dev","",""),("out","/nix/store/b-x","","")],' +
    '[("/nix/store/c-dep.drv",["out"]),("/nix/store/d-multi.drv",["dev","lib"])],' +
    '["/nix/store/e-src"],"x86_64-linux","/bin/sh",["-c","echo \\"hi\\"\\n"],[("name","x"),("out","/nix/store/b-x")])';
  expect(parseInputDrvs(drv)).toEqual({ '/nix/store/c-dep.drv': ['out'], '/nix/store/d-multi.drv': ['dev', 'lib'] });
});

test('a derivation without inputs has none', () => {
  expect(parseInputDrvs('Derive([("out","/nix/store/b-x","","")],[],[],"s","b",[],[])')).toEqual({});
});

test('rejects what is not a derivation', () => {
  expect(() => parseInputDrvs('hello')).toThrow(/not a derivation/);
  expect(() => parseInputDrvs('Derive([("out","/nix/store/b-x')).toThrow(/unterminated|malformed/);
});
