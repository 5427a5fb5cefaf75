/**
 * The maintenance lease of a dataset: one object in the silver zone, `_maintenance/leases/<dataset>.json`,
 * created only where none exists (`ObjectStore.putBytes` create-only, S3 `If-None-Match: *`, a hard link
 * locally). An erasure or a compaction — on AWS and on the local lake — holds it while it rewrites the dataset's
 * files; of two maintenance runs only one gets it.
 *
 * Ingests respect it (engine/ingest.ts `publish`): an ingest writes its `_pending/` intent record first and
 * looks for the lease second; holding one, it restores the intent as it was, writes nothing and fails
 * (MaintenanceLeaseHeldError: the message is retried later). Maintenance takes the lease first and looks for
 * intent records second (compaction skips a source with one). With S3's strong read-after-write consistency
 * one of the two always sees the other: either the ingest sees the lease and backs off, or its intent was
 * written before the lease and the compaction sees it. A maintenance that took and released the lease before
 * the intent existed is in the manifest, which the publish reads again after the lease: it then writes nothing.
 *
 * A lease is never taken over by a clock. Past `expires_at` it is reported as stale (its holder probably
 * crashed) and stays until a person releases it by its id (`lake unlock`), so a slow run is never broken
 * by a clock. The exceptions are proofs: a lease naming its holder's process (`owner`: pid, host, process
 * start identity — the local lake's commands record it) may be released by the next maintenance or ingest
 * whose caller can tell that process is gone (a `LeaseTakeover`: `holderGone` — same machine, pid free or
 * reused — and the caller is told by `onTakeover`); and the scheduled compaction function (one run at a time)
 * takes over an expired lease of its own earlier run, which can only have been killed by its timeout
 * (lambdas/compaction).
 *
 * A lease is released only as the very object that was read and judged: deleted with `ObjectStore.deleteIfMatch`
 * on the entity tag of that read (S3 `If-Match`), never by a read, a check and a plain delete — a lease released
 * meanwhile (`lake unlock`) and taken by a new holder is never deleted in its place.
 */
import { randomBytes } from 'node:crypto';
import { maintenanceLeaseKey } from '../layout.ts';
import { ObjectChangedError, ObjectExistsError, type ObjectStore } from '../ports.ts';

/** How long a lease is expected to be held before it is reported as stale. */
export const DEFAULT_MAINTENANCE_LEASE_TTL_MS = 2 * 60 * 60 * 1000;

export type MaintenanceOperation = 'erase' | 'compact';

/** The process holding a lease, when one process on one machine does (the local lake's commands). */
export interface LeaseOwner {
  pid: number;
  host: string;
  /** When the process started (ISO): with the pid, tells a reused pid from the holder. */
  process_started_at: string;
  /** Boot id and PID namespace (Linux): pids are only judged on the same one. */
  machine?: string;
  /** The process's start time in kernel clock ticks since boot (Linux): tells a reused pid exactly. */
  start_ticks?: number;
}

/** Whether a lease's holder is provably gone (its process ended): only such a lease is released without a person. */
export type LeaseHolderGone = (lease: MaintenanceLease) => boolean;

/**
 * Runs a takeover (read the lease, judge it, delete it by id) one at a time among the takers of a dataset, so
 * two of them never see the same dead lease and one deletes the lease the other has just created.
 */
export type SerializeTakeover = (
  dataset: string,
  takeover: () => Promise<MaintenanceLease | undefined>,
) => Promise<MaintenanceLease | undefined>;

/**
 * How a maintenance or an ingest treats a lease left by a dead process (the local lake): such a lease is
 * released (and, by a maintenance, taken).
 */
export interface LeaseTakeover {
  /** Tells a lease whose holder is provably gone; only a lease naming its process can be. */
  holderGone: LeaseHolderGone;
  /** One takeover at a time among the lease's takers. @default none: not serialized */
  serialize?: SerializeTakeover;
  /** Called when a dead holder's lease was released. */
  onTakeover?: (released: MaintenanceLease) => void;
}

export interface MaintenanceLease {
  lease_version: 1;
  lease_id: string;
  dataset: string;
  operation: MaintenanceOperation;
  /** Who runs it (user@host, a function name). */
  holder: string;
  acquired_at: string;
  /** Past this the lease is reported as stale; it is never released by the clock. */
  expires_at: string;
  /** The holding process, where one process holds it (local lake): lets a dead holder's lease be taken over. */
  owner?: LeaseOwner;
}

/** Whether the lease is past its expiry (its holder probably stopped without releasing it). */
export const isStaleLease = (lease: MaintenanceLease, now = new Date()): boolean =>
  Date.parse(lease.expires_at) <= now.getTime();

/** Someone else holds the dataset's maintenance lease (an ingest: retried later; maintenance: run again later). */
export class MaintenanceLeaseHeldError extends Error {
  readonly stale: boolean;
  constructor(
    readonly lease: MaintenanceLease,
    readonly blocked: string,
    now = new Date(),
  ) {
    const stale = isStaleLease(lease, now);
    super(
      `${blocked} of ${lease.dataset} did nothing: ${describeLease(lease)}` +
        (stale
          ? `; it expired at ${lease.expires_at}, so its holder probably stopped without releasing it — if no erase or compact of ${lease.dataset} still runs, release it with \`lake unlock --dataset ${lease.dataset} --lease ${lease.lease_id}\` (docs/runbook.md, "Maintenance lease")`
          : `, expected until ${lease.expires_at}`),
    );
    this.name = 'MaintenanceLeaseHeldError';
    this.stale = stale;
  }
}

export function describeLease(lease: MaintenanceLease): string {
  const pid = lease.owner ? `, pid ${lease.owner.pid}` : '';
  return `the ${lease.operation === 'erase' ? 'erasure' : 'compaction'} ${lease.lease_id} by ${lease.holder}${pid} holds the maintenance lease since ${lease.acquired_at}`;
}

/**
 * The lease as stored, or undefined when none is held. A lease object that cannot be read still holds the
 * dataset (never ignored): it reads as held by an unknown holder, already stale, so `lake unlock` can name it.
 */
export async function readMaintenanceLease(store: ObjectStore, dataset: string): Promise<MaintenanceLease | undefined> {
  const bytes = await store.getBytes('silver', maintenanceLeaseKey(dataset));
  return bytes && parseLease(bytes, dataset);
}

/** The lease and the entity tag of the object it was read from: what a release deletes, and nothing else. */
async function readTaggedLease(
  store: ObjectStore,
  dataset: string,
): Promise<{ lease: MaintenanceLease; etag: string } | undefined> {
  const read = await store.getBytesWithEtag('silver', maintenanceLeaseKey(dataset));
  return read && { lease: parseLease(read.bytes, dataset), etag: read.etag };
}

function parseLease(bytes: Uint8Array, dataset: string): MaintenanceLease {
  try {
    const lease = JSON.parse(Buffer.from(bytes).toString('utf8')) as MaintenanceLease | null;
    if (lease && typeof lease.lease_id === 'string') return lease;
  } catch {
    // an unreadable lease object: below
  }
  return {
    lease_version: 1,
    lease_id: 'unreadable',
    dataset,
    operation: 'compact',
    holder: `an unreadable lease object (silver/${maintenanceLeaseKey(dataset)})`,
    acquired_at: new Date(0).toISOString(),
    expires_at: new Date(0).toISOString(),
  };
}

/** Deletes the lease object read with `etag`, only if it is still that object: false when it was replaced since. */
async function deleteLeaseObject(store: ObjectStore, dataset: string, etag: string): Promise<boolean> {
  try {
    await store.deleteIfMatch('silver', maintenanceLeaseKey(dataset), etag);
    return true;
  } catch (e) {
    if (e instanceof ObjectChangedError) return false;
    throw e;
  }
}

export interface AcquireLeaseOptions {
  dataset: string;
  operation: MaintenanceOperation;
  holder: string;
  /** @default DEFAULT_MAINTENANCE_LEASE_TTL_MS */
  ttlMs?: number;
  /** The holding process, recorded in the lease. @default none (AWS: the holder is not one process of one machine) */
  owner?: LeaseOwner;
  /** Releases and takes a lease left by a dead process. @default none: a held lease is never taken */
  takeover?: LeaseTakeover;
}

/**
 * Releases the dataset's lease when `holderGone` proves its holder dead (only a lease naming its process can
 * be), and tells `onTakeover`: answers the released lease, or undefined (none held, holder alive or unknown, or
 * released meanwhile).
 */
export async function releaseLeaseOfGoneHolder(
  store: ObjectStore,
  dataset: string,
  takeover: LeaseTakeover,
): Promise<MaintenanceLease | undefined> {
  const dead = (lease: MaintenanceLease | undefined): lease is MaintenanceLease =>
    lease?.owner !== undefined && takeover.holderGone(lease);
  if (!dead(await readMaintenanceLease(store, dataset))) return undefined;
  const release = async () => {
    // Judged again inside the serialization: another taker may have released it and a new holder taken it;
    // and deleted only as the object judged (a new holder's lease, however soon after, is not).
    const held = await readTaggedLease(store, dataset);
    if (!held || !dead(held.lease)) return undefined;
    return (await deleteLeaseObject(store, dataset, held.etag)) ? held.lease : undefined;
  };
  const released = await (takeover.serialize ? takeover.serialize(dataset, release) : release());
  if (released) takeover.onTakeover?.(released);
  return released;
}

/** Writes the lease where none is: false when the key is taken. */
async function createLease(store: ObjectStore, dataset: string, body: string): Promise<boolean> {
  try {
    await store.putBytes('silver', maintenanceLeaseKey(dataset), body, 'application/json', { ifNoneMatch: true });
    return true;
  } catch (e) {
    if (e instanceof ObjectExistsError) return false;
    throw e;
  }
}

/** Takes the dataset's lease, or throws MaintenanceLeaseHeldError naming who holds it. */
export async function acquireMaintenanceLease(
  store: ObjectStore,
  options: AcquireLeaseOptions,
): Promise<MaintenanceLease> {
  const now = new Date();
  const lease: MaintenanceLease = {
    lease_version: 1,
    lease_id: `${options.operation}-${now
      .toISOString()
      .replace(/[-:]/g, '')
      .replace(/\.\d+Z$/, 'Z')}-${randomBytes(4).toString('hex')}`,
    dataset: options.dataset,
    operation: options.operation,
    holder: options.holder,
    acquired_at: now.toISOString(),
    expires_at: new Date(now.getTime() + (options.ttlMs ?? DEFAULT_MAINTENANCE_LEASE_TTL_MS)).toISOString(),
    ...(options.owner ? { owner: options.owner } : {}),
  };
  const body = `${JSON.stringify(lease, null, 2)}\n`;
  if (await createLease(store, options.dataset, body)) return lease;
  if (options.takeover) await releaseLeaseOfGoneHolder(store, options.dataset, options.takeover);
  const held = await readMaintenanceLease(store, options.dataset);
  // Our own put landed although its answer was lost, and the SDK's retry found the key taken: the id (random) proves it.
  if (held?.lease_id === lease.lease_id) return lease;
  if (!held) {
    // Released between our attempt and the look: one more attempt, then report whoever has it.
    if (await createLease(store, options.dataset, body)) return lease;
    const again = await readMaintenanceLease(store, options.dataset);
    if (again?.lease_id === lease.lease_id) return lease;
    if (again) throw new MaintenanceLeaseHeldError(again, `the ${options.operation}`);
    throw new Error(`the maintenance lease of ${options.dataset} could not be created nor read`);
  }
  throw new MaintenanceLeaseHeldError(held, `the ${options.operation}`);
}

/** The outcome of releasing a lease by id. */
export type LeaseRelease = 'released' | 'not_held' | 'held_by_another';

/**
 * Deletes the dataset's lease if it is the one named (never another holder's): the object read is deleted only
 * while it is still there (`deleteIfMatch`), so a lease released and taken by another holder in between stays.
 */
export async function releaseMaintenanceLease(
  store: ObjectStore,
  dataset: string,
  leaseId: string,
): Promise<LeaseRelease> {
  const held = await readTaggedLease(store, dataset);
  if (!held) return 'not_held';
  if (held.lease.lease_id !== leaseId) return 'held_by_another';
  return (await deleteLeaseObject(store, dataset, held.etag)) ? 'released' : 'held_by_another';
}

/** Runs `work` holding the dataset's lease; releases it afterwards, whatever happened. */
export async function withMaintenanceLease<T>(
  store: ObjectStore,
  options: AcquireLeaseOptions,
  work: (lease: MaintenanceLease) => Promise<T>,
): Promise<T> {
  const lease = await acquireMaintenanceLease(store, options);
  try {
    return await work(lease);
  } finally {
    await releaseMaintenanceLease(store, options.dataset, lease.lease_id);
  }
}
