/**
 * Turns what the user asked for into what workers evaluate: absolute paths,
 * a locked flake, and expressions known to parse. Problems come out as
 * InputError with one line for the user.
 */
import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { EvalConfig, WorkerConfig } from './config.js';
import { InputError } from './failures.js';
import { NixCommandError, checkParse, type LabelledExpression } from './nix/commands.js';
import { lockFlake } from './nix/flake.js';

export interface Resolved {
  config: WorkerConfig;
  /** For a flake whose content is pinned: what pins it (see LockedFlake). */
  pin?: { locked: unknown; locks: unknown };
}

export async function resolveConfig(config: EvalConfig): Promise<Resolved> {
  const { input, ...options } = config;
  const expressions: LabelledExpression[] = config.autoArgs
    .filter((a) => a.kind === 'expr')
    .map((a) => ({ label: `--arg ${a.name}`, text: a.value }));
  if (input.kind === 'expr') expressions.push({ label: '--expr', text: input.expr });
  if (config.select !== undefined) expressions.push({ label: '--select', text: config.select });
  if (config.apply !== undefined) expressions.push({ label: '--apply', text: config.apply });
  try {
    const [resolved] = await Promise.all([resolveInput(config), checkParse(expressions, config.workdir)]);
    return { config: { ...options, input: resolved.input }, ...(resolved.pin ? { pin: resolved.pin } : {}) };
  } catch (error) {
    if (error instanceof NixCommandError) throw new InputError(error.message, { cause: error });
    throw error;
  }
}

async function resolveInput(config: EvalConfig): Promise<{ input: WorkerConfig['input']; pin?: Resolved['pin'] }> {
  const input = config.input;
  switch (input.kind) {
    case 'file': {
      const path = resolve(config.workdir, input.path);
      await stat(path).catch(() => Promise.reject(new NixCommandError(`file not found: ${input.path}`)));
      return { input: { kind: 'file', path } };
    }
    case 'expr':
      return { input };
    case 'flake':
      return lockFlake(input.ref, {
        cwd: config.workdir,
        overrideInputs: config.overrideInputs,
        nixOptions: config.nixOptions,
        ...(config.overrideFlakes ? { overrideFlakes: config.overrideFlakes } : {}),
        ...(config.referenceLockFile ? { referenceLockFile: config.referenceLockFile } : {}),
      });
  }
}
