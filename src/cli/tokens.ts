/** The shared token, from a file or an environment variable. */
import { readFileSync } from 'node:fs';
import { UsageError } from './argv.js';

/**
 * The token: from `file`, else from the file named by `<variable>_FILE`
 * (as container secrets are given), else the variable's value; surrounding
 * white space removed.
 */
export function readToken(option: string | undefined, variable: string): Buffer | undefined {
  const file = option ?? process.env[`${variable}_FILE`];
  let text: string | undefined;
  if (file !== undefined) {
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read token file ${file}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
    }
  } else {
    text = process.env[variable];
  }
  if (text === undefined) return undefined;
  const token = text.trim();
  if (token === '') throw new UsageError(file !== undefined ? `token file ${file} is empty` : `${variable} is empty`);
  return Buffer.from(token, 'utf8');
}

export function readFileOption(option: string, path: string | undefined): Buffer | undefined {
  if (path === undefined) return undefined;
  try {
    return readFileSync(path);
  } catch (error) {
    throw new UsageError(`${option}: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`);
  }
}
