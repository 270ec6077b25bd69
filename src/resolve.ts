/**
 * Turns what the user asked for into what workers evaluate: absolute paths,
 * a locked flake, and expressions known to parse. Problems come out as
 * InputError with one line for the user.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EvalConfig, WorkerConfig } from './config.js';
import { NixCommandError, checkParses } from './nix/commands.js';
import { lockFlake } from './nix/flake.js';

export class InputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InputError';
  }
}

export async function resolveConfig(config: EvalConfig): Promise<WorkerConfig> {
  const { input, ...options } = config;
  try {
    await Promise.all(
      config.autoArgs
        .filter((a) => a.kind === 'expr')
        .map((a) => checkParses(a.value, config.workdir).catch((e: Error) => Promise.reject(new NixCommandError(`--arg ${a.name}: ${e.message}`)))),
    );
    switch (input.kind) {
      case 'file': {
        const path = resolve(config.workdir, input.path);
        await stat(path).catch(() => Promise.reject(new NixCommandError(`file not found: ${input.path}`)));
        return { ...options, input: { kind: 'file', path } };
      }
      case 'expr':
        await checkParses(input.expr, config.workdir).catch((e: Error) => Promise.reject(new NixCommandError(`--expr: ${e.message}`)));
        return { ...options, input };
      case 'flake':
        return { ...options, input: await lockFlake(input.ref, { cwd: config.workdir, overrideInputs: config.overrideInputs, nixOptions: config.nixOptions }) };
    }
  } catch (error) {
    if (error instanceof NixCommandError) throw new InputError(error.message);
    throw error;
  }
}
