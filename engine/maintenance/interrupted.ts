/**
 * Maintenance that did not finish, as the silver zone records it: compaction intent records left by a run
 * that stopped between its upload and its deletes, erasure records still `started`, and maintenance leases
 * (held now, or stale: left by a run that stopped without releasing it). `lake status` lists them with the
 * command that resumes each.
 */
import { COMPACTIONS_PREFIX, ERASURES_PREFIX } from '../layout.ts';
import { readSilverRecord } from '../manifest-reader.ts';
import type { ObjectStore } from '../ports.ts';
import type { ErasureRecord } from './erase.ts';
import { isStaleLease, readMaintenanceLease, type MaintenanceLease } from './lease.ts';

export interface InterruptedCompaction {
  kind: 'compaction';
  dataset: string;
  compaction_id: string;
  partition: string;
  started_at: string;
  inputs: number;
  /** The intent record's key in silver. */
  record_key: string;
}

export interface InterruptedErasure {
  kind: 'erasure';
  dataset: string;
  erasure_id: string;
  /** The column of the predicate (the value is only hashed in the record: it is in the request's ticket). */
  column: string;
  started_at: string;
  requested_by: string;
  files_done: number;
  record_key: string;
}

export interface HeldLease {
  kind: 'lease';
  dataset: string;
  lease: MaintenanceLease;
  /** Past its expiry: its holder probably stopped without releasing it. */
  stale: boolean;
}

export type UnfinishedMaintenance = InterruptedCompaction | InterruptedErasure | HeldLease;

/** Every unfinished maintenance of the datasets, oldest first within each kind. */
export async function unfinishedMaintenance(
  store: ObjectStore,
  datasets: readonly string[],
  now = new Date(),
): Promise<UnfinishedMaintenance[]> {
  const out: UnfinishedMaintenance[] = [];
  for (const dataset of datasets) {
    const lease = await readMaintenanceLease(store, dataset);
    if (lease) out.push({ kind: 'lease', dataset, lease, stale: isStaleLease(lease, now) });
    const compactions: InterruptedCompaction[] = [];
    for await (const o of store.list('silver', `${COMPACTIONS_PREFIX}${dataset}/`)) {
      const intent = await readSilverRecord<{
        compaction_id?: string;
        partition?: string;
        started_at?: string;
        inputs?: unknown[];
      }>(store, o.key);
      compactions.push({
        kind: 'compaction',
        dataset,
        compaction_id:
          intent?.compaction_id ??
          o.key
            .split('/')
            .pop()
            ?.replace(/\.json$/, '') ??
          o.key,
        partition: intent?.partition ?? '',
        started_at: intent?.started_at ?? o.lastModified.toISOString(),
        inputs: Array.isArray(intent?.inputs) ? intent.inputs.length : 0,
        record_key: o.key,
      });
    }
    const erasures: InterruptedErasure[] = [];
    for await (const o of store.list('silver', `${ERASURES_PREFIX}${dataset}/`)) {
      const record = await readSilverRecord<ErasureRecord>(store, o.key);
      if (record?.status !== 'started' || record.dry_run) continue;
      erasures.push({
        kind: 'erasure',
        dataset,
        erasure_id: record.erasure_id,
        column: record.predicate.column,
        started_at: record.started_at,
        requested_by: record.requested_by,
        files_done: record.files.length,
        record_key: o.key,
      });
    }
    const byStart = (a: { started_at: string }, b: { started_at: string }) => a.started_at.localeCompare(b.started_at);
    out.push(...compactions.sort(byStart), ...erasures.sort(byStart));
  }
  return out;
}
