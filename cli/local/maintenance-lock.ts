/**
 * The lock of a dataset's maintenance (`lake erase`, `lake compact`): one rewrite of a dataset's files at a
 * time, across processes. Ingests take no lock (they only write files named by their own source); compaction
 * checks its inputs again before it switches (see engine/maintenance/compact.ts), erasure replaces files under
 * their own keys. A lock left by a crashed process is taken over (file-lock.ts).
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describeHolder, LockBusyError, withFileLock } from '../../adapters/local/file-lock.ts';
import { UserError } from '../errors.ts';
import type { LocalLake } from './lake.ts';

export const LOCKS_DIR = 'locks';

export function maintenanceLockPath(lakeDir: string, dataset: string): string {
  return join(lakeDir, LOCKS_DIR, `${dataset}.maintenance.lock`);
}

/** How long a maintenance command waits for another one on the same dataset. */
export function maintenanceLockWaitMs(env = process.env): number {
  const fromEnv = Number(env.LAKE_MAINTENANCE_LOCK_WAIT_MS);
  return env.LAKE_MAINTENANCE_LOCK_WAIT_MS && Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : 60_000;
}

export async function withMaintenanceLock<T>(
  lake: LocalLake,
  dataset: string,
  command: string,
  work: () => Promise<T>,
  onWait?: (who: string) => void,
): Promise<T> {
  const path = maintenanceLockPath(lake.dir, dataset);
  await mkdir(join(lake.dir, LOCKS_DIR), { recursive: true });
  try {
    return await withFileLock(path, async () => work(), {
      waitMs: maintenanceLockWaitMs(),
      onWait: (holder) => onWait?.(describeHolder(holder)),
    });
  } catch (e) {
    if (e instanceof LockBusyError) {
      throw new UserError(
        `another maintenance command (${describeHolder(e.holder)}) is rewriting ${dataset}; ${command} did nothing`,
        'run it again when that one has finished',
      );
    }
    throw e;
  }
}
