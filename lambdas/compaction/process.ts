/**
 * The scheduled compaction (EventBridge schedule → this function): the engine's compaction use case over the
 * silver bucket, one dataset at a time, each under the dataset's maintenance lease (engine/maintenance/lease.ts)
 * — as `lake compact --aws` runs it. A lease another run holds skips the dataset (the next schedule takes it);
 * a stale one fails the invocation (the errors alarm), as it also blocks the dataset's ingests.
 */
import type { ContractRegistry } from '../../engine/contract/index.ts';
import {
  compactDataset,
  MaintenanceLeaseHeldError,
  withMaintenanceLease,
  type CompactionReport,
  type ObjectStore,
} from '../../engine/index.ts';

/** Time kept back from the deadline: no new group starts after it (a group is a download, a COPY and a switch). */
export const COMPACTION_STOP_MARGIN_MS = 120_000;

export interface ScheduledCompactionDependencies {
  store: ObjectStore;
  contracts: ContractRegistry;
  /** Datasets to compact; every contract's when empty. */
  datasets: readonly string[];
  targetBytes?: number;
  workDir: string;
  /** Who holds the lease (the function's name). */
  holder: string;
  remainingMs: () => number;
  logger: {
    info: (message: string, extra?: Record<string, unknown>) => void;
    error: (message: string, extra?: Record<string, unknown>) => void;
  };
}

export interface ScheduledCompactionResult {
  dataset: string;
  outcome: 'compacted' | 'lease_held' | 'out_of_time';
  report?: CompactionReport;
  detail?: string;
}

export async function runScheduledCompaction(
  deps: ScheduledCompactionDependencies,
): Promise<ScheduledCompactionResult[]> {
  const known = deps.contracts.names();
  const unknown = deps.datasets.filter((d) => !known.includes(d));
  if (unknown.length)
    throw new Error(`scheduled compaction: unknown dataset(s) ${unknown.join(', ')}; known: ${known.join(', ')}`);
  const datasets = deps.datasets.length ? deps.datasets : known;
  const inTime = () => deps.remainingMs() > COMPACTION_STOP_MARGIN_MS;
  const results: ScheduledCompactionResult[] = [];
  const stale: MaintenanceLeaseHeldError[] = [];
  for (const dataset of datasets) {
    if (!inTime()) {
      results.push({ dataset, outcome: 'out_of_time', detail: 'left for the next run' });
      continue;
    }
    try {
      const report = await withMaintenanceLease(
        deps.store,
        // A killed invocation's lease reads as stale right after the function's deadline.
        { dataset, operation: 'compact', holder: deps.holder, ttlMs: deps.remainingMs() + 60_000 },
        () =>
          compactDataset({
            store: deps.store,
            contracts: deps.contracts,
            dataset,
            targetBytes: deps.targetBytes,
            workDir: deps.workDir,
            continueWhile: inTime,
          }),
      );
      results.push({ dataset, outcome: 'compacted', report });
      deps.logger.info('compacted', {
        dataset,
        files_before: report.files_before,
        files_after: report.files_after,
        groups: report.groups.map((g) => ({ partition: g.partition, status: g.status, inputs: g.inputs.length })),
        recovered: report.recovered,
        ...(report.stopped ? { stopped: report.stopped } : {}),
      });
    } catch (e) {
      if (!(e instanceof MaintenanceLeaseHeldError)) throw e;
      results.push({ dataset, outcome: 'lease_held', detail: e.message });
      if (e.stale) stale.push(e);
      else deps.logger.info('skipped: another maintenance holds the lease', { dataset, detail: e.message });
    }
  }
  if (stale.length) {
    for (const e of stale)
      deps.logger.error('stale maintenance lease', { dataset: e.lease.dataset, detail: e.message });
    throw new Error(
      `scheduled compaction: ${stale.map((e) => e.lease.dataset).join(', ')} held by a stale maintenance lease (docs/runbook.md, "Maintenance lease")`,
    );
  }
  return results;
}
