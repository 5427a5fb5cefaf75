/**
 * The scheduled compaction (EventBridge schedule → this function): the engine's compaction use case over the
 * silver bucket, one dataset at a time, each under the dataset's maintenance lease (engine/maintenance/lease.ts)
 * — as `lake compact --aws` runs it. A lease another run holds skips the dataset (the next schedule takes it);
 * an expired one left by an earlier run of this function (timed out or killed) is taken over; any other stale
 * one fails the invocation (the errors alarm), as it also blocks the dataset's ingests.
 */
import type { ContractRegistry } from '../../engine/contract/index.ts';
import {
  compactDataset,
  MaintenanceLeaseHeldError,
  releaseMaintenanceLease,
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
  /** The function's name: with the request id, the lease's holder; an expired lease of this function is taken over. */
  functionName: string;
  requestId: string;
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

/** What every lease holder of the function starts with. */
const holderPrefix = (functionName: string): string => `${functionName} (scheduled compaction, request `;

/** The holder the scheduled compaction writes into the lease: its function and its request. */
export const scheduledCompactionHolder = (functionName: string, requestId: string): string =>
  `${holderPrefix(functionName)}${requestId})`;

/**
 * An expired lease of an earlier run of this function: that run is over (its lease expires a minute after its
 * deadline, and the function runs one at a time: reserved concurrency 1), killed or timed out before its release.
 */
const leftByEarlierRun = (e: MaintenanceLeaseHeldError, functionName: string): boolean =>
  e.stale && e.lease.holder.startsWith(holderPrefix(functionName));

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
    const compact = () =>
      withMaintenanceLease(
        deps.store,
        // A killed invocation's lease reads as stale right after the function's deadline.
        {
          dataset,
          operation: 'compact',
          holder: scheduledCompactionHolder(deps.functionName, deps.requestId),
          ttlMs: deps.remainingMs() + 60_000,
        },
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
    try {
      const report = await compact().catch(async (e: unknown) => {
        if (!(e instanceof MaintenanceLeaseHeldError && leftByEarlierRun(e, deps.functionName))) throw e;
        // Its interrupted compaction, if any, is finished first by this one (compactDataset recovers it).
        deps.logger.info('took over the expired lease of an earlier scheduled run', { dataset, detail: e.message });
        await releaseMaintenanceLease(deps.store, dataset, e.lease.lease_id);
        return compact();
      });
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
