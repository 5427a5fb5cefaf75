/**
 * The local lake's maintenance lease: the same rule as on AWS (engine/maintenance/lease.ts) — `lake erase` and
 * `lake compact` hold `silver/_maintenance/leases/<dataset>.json` while they rewrite a dataset's files, and
 * every local ingest (`lake ingest`, `watch`, `replay`, the demo) writes its intent record first and backs off
 * while the lease is held. The local lease names its process (pid, host, process start identity): a lease left
 * by a killed command is released by the next maintenance or ingest on this machine, with a note; a lease whose
 * holder cannot be judged (another host, no /proc) is released by a person (`lake unlock`) once stale.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { withFileLock } from '../../adapters/local/file-lock.ts';
import { currentOwner, ownerState, sameMachine } from '../../adapters/local/process-owner.ts';
import {
  acquireMaintenanceLease,
  describeLease,
  MaintenanceLeaseHeldError,
  releaseMaintenanceLease,
  type LeaseHolderGone,
  type LeaseTakeover,
  type MaintenanceLease,
  type MaintenanceOperation,
  type SerializeTakeover,
} from '../../engine/index.ts';
import { localIdentity } from './identity.ts';
import { UserError } from '../errors.ts';
import type { LocalLake } from './lake.ts';

/** A lease's holder process is provably gone: it ran on this machine and its pid is free or now another process's. */
export const localLeaseHolderGone: LeaseHolderGone = (lease) =>
  lease.owner !== undefined && sameMachine(lease.owner) && ownerState(lease.owner) === 'gone';

/** A lease's holder process provably still runs: on this machine, its pid held by the same process. */
export const localLeaseHolderAlive = (lease: MaintenanceLease): boolean =>
  lease.owner !== undefined && sameMachine(lease.owner) && ownerState(lease.owner) === 'alive';

/**
 * Takeovers of a dataset's lease one at a time (`<lake>/locks/<dataset>.lease-takeover.lock`, held for the few
 * milliseconds of a read and a delete): two takers never both release the dead lease, one deleting the lease the
 * other has just created.
 */
export function serializeLocalTakeover(lakeDir: string): SerializeTakeover {
  return async (dataset, takeover) => {
    await mkdir(join(lakeDir, 'locks'), { recursive: true });
    return withFileLock(join(lakeDir, 'locks', `${dataset}.lease-takeover.lock`), takeover, { waitMs: 30_000 });
  };
}

/** The local lake's takeover of a lease left by a killed command: judged by its pid, one taker at a time, `notify` told. */
export function localLeaseTakeover(lakeDir: string, notify?: (note: string) => void): LeaseTakeover {
  return {
    holderGone: localLeaseHolderGone,
    serialize: serializeLocalTakeover(lakeDir),
    onTakeover: (released) => notify?.(takeoverNote(released)),
  };
}

/** The note printed when a dead holder's lease was released. */
export function takeoverNote(released: MaintenanceLease): string {
  return `released the maintenance lease ${released.lease_id} of ${released.dataset}: its holder (${released.holder}, pid ${released.owner?.pid ?? '?'}) is no longer running; \`lake status\` names what it left unfinished\n`;
}

/** How long a maintenance command waits for another one on the same dataset. */
export function maintenanceLockWaitMs(env = process.env): number {
  const fromEnv = Number(env.LAKE_MAINTENANCE_LOCK_WAIT_MS);
  return env.LAKE_MAINTENANCE_LOCK_WAIT_MS && Number.isFinite(fromEnv) && fromEnv >= 0 ? fromEnv : 60_000;
}

const RETRY_MS = 250;

/** Takes the dataset's lease, waiting up to maintenanceLockWaitMs() for a live holder; a dead holder's is taken over. */
async function acquireLocal(
  lake: LocalLake,
  dataset: string,
  operation: MaintenanceOperation,
  hooks: { onWait?: (who: string) => void; onTakeover?: (note: string) => void },
): Promise<MaintenanceLease> {
  const deadline = Date.now() + maintenanceLockWaitMs();
  let waiting = false;
  for (;;) {
    try {
      return await acquireMaintenanceLease(lake.store, {
        dataset,
        operation,
        holder: `${localIdentity()} (lake ${operation})`,
        owner: currentOwner(),
        takeover: localLeaseTakeover(lake.dir, hooks.onTakeover),
      });
    } catch (e) {
      if (!(e instanceof MaintenanceLeaseHeldError) || e.lease.dataset !== dataset) throw e;
      // Past its expiry but its process still runs (a long erase): it is waited for as any live holder.
      if ((e.stale && !localLeaseHolderAlive(e.lease)) || Date.now() >= deadline) throw e;
      if (!waiting) hooks.onWait?.(describeLease(e.lease));
      waiting = true;
      await sleep(RETRY_MS);
    }
  }
}

/**
 * Runs one local maintenance command holding the dataset's lease; released afterwards, whatever happened.
 * Another live holder is waited for (LAKE_MAINTENANCE_LOCK_WAIT_MS, 60 s), then refused.
 */
export async function withLocalMaintenanceLease<T>(
  lake: LocalLake,
  dataset: string,
  operation: MaintenanceOperation,
  work: () => Promise<T>,
  hooks: { onWait?: (who: string) => void; onTakeover?: (note: string) => void } = {},
): Promise<T> {
  const command = operation === 'erase' ? 'the erasure' : 'the compaction';
  let lease: MaintenanceLease;
  try {
    lease = await acquireLocal(lake, dataset, operation, hooks);
  } catch (e) {
    if (!(e instanceof MaintenanceLeaseHeldError)) throw e;
    throw new UserError(
      `another maintenance command is rewriting ${dataset}: ${describeLease(e.lease)}; ${command} did nothing`,
      e.stale && !localLeaseHolderAlive(e.lease)
        ? `its lease expired at ${e.lease.expires_at}: if no erase or compact of ${dataset} still runs, release it with \`lake unlock --dataset ${dataset} --lease ${e.lease.lease_id}\``
        : 'run it again when that one has finished',
    );
  }
  try {
    return await work();
  } finally {
    await releaseMaintenanceLease(lake.store, dataset, lease.lease_id);
  }
}
