import { expect, test } from 'vitest';
import { isEnvironmentalError } from '../../src/cache/environmental.js';

test('failed downloads, fetches, evaluators killed by a signal and the memory budget are the environment', () => {
  for (const error of [
    "unable to download 'http://127.0.0.1:1/x': Couldn't connect to server (7)",
    "unable to download 'https://example.org/a.tar.gz': HTTP error 503",
    "program 'git' failed with exit code 128",
    "unable to download 'https://cache.example/x': Could not resolve host: cache.example (6)",
    'the nix evaluator died evaluating this attribute (8 times): killed by SIGKILL (the kernel\'s OOM killer does this when memory runs out)',
    'the nix evaluator passed the memory budget evaluating this attribute alone: 223 MiB resident, past the 218 MiB the evaluators may use together (--max-memory each)',
  ]) {
    expect(isEnvironmentalError(error), error).toBe(true);
  }
});

test('errors of the input itself are not', () => {
  for (const error of [
    'this job is broken',
    "attribute 'nothing' missing\n\n       at /x/jobs.nix:3:3:",
    'infinite recursion encountered',
    'the nix evaluator died evaluating this attribute (2 times): exit code 1: stack overflow (possible infinite recursion)',
    "access to URI 'http://127.0.0.1:1/x' is forbidden in restricted mode",
  ]) {
    expect(isEnvironmentalError(error), error).toBe(false);
  }
});
