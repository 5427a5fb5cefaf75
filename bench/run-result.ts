import { readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';

export interface RunResult {
  seconds: number;
  /** CPU seconds (user + system, every thread of the process) over the same span as `seconds`. */
  cpuSeconds: number;
  bytesIn: number;
  peakRssMb: number;
  silverBytes: number;
  /** Records counted (engine runs only). */
  rowsIn?: number;
  rowsValid: number;
  rowsQuarantined: number;
  /** Record-aligned chunks the engine cut the input into (engine runs only). */
  chunks?: number;
}

export async function directoryBytes(dir: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
    const full = join(dir, entry.name);
    total += entry.isDirectory() ? await directoryBytes(full) : (await stat(full)).size;
  }
  return total;
}

/** CPU seconds (user + system, all threads) since `from` (a `process.cpuUsage()` taken at the start). */
export function cpuSecondsSince(from: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(from);
  return (used.user + used.system) / 1e6;
}
