import { UsageError } from './argv.js';

/** An integer option of at least `min`, or a usage error naming the option. */
export function positiveInteger(option: string, text: string, min: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(n) || n < min) throw new UsageError(`${option} must be an integer of at least ${min}, not '${text}'`);
  return n;
}
