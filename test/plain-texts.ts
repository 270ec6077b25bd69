/** Texts `parsesPlainly` vouches for without asking Nix: the unit test checks it does, the CLI test that Nix parses each. */
export const PLAIN_TEXTS = ['5000', '-3', ' 1.5 ', 'true', 'false', 'null', '007', '"x86_64-linux"', '""', ' "release 23.05" ', '"two\nlines"'];
