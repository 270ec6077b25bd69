/** Resident memory of a process, read from /proc (Linux). */
import { readFile } from 'node:fs/promises';

/** VmRSS of `pid` in MiB, or undefined when the process is gone. */
export async function residentMiB(pid: number): Promise<number | undefined> {
  try {
    const status = await readFile(`/proc/${pid}/status`, 'utf8');
    const match = /^VmRSS:\s+(\d+) kB/m.exec(status);
    return match ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}
