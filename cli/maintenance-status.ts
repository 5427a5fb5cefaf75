/**
 * `lake status`'s "Unfinished maintenance" section, local and `--aws`: interrupted compactions and erasures and
 * maintenance leases (engine unfinishedMaintenance), each with the command that resumes (or releases) it.
 */
import type { LeaseHolderGone, UnfinishedMaintenance } from '../engine/index.ts';
import { formatTime } from './ui/format.ts';
import type { Style } from './ui/style.ts';
import { renderTable } from './ui/table.ts';

export interface MaintenanceAttention {
  kind: UnfinishedMaintenance['kind'];
  dataset: string;
  id: string;
  started_at: string;
  what: string;
  /** `running`: its command still holds the dataset; `interrupted`: it stopped part-way; `stale lease`: held past its expiry. */
  state: 'running' | 'interrupted' | 'stale lease';
  /** The command that finishes it (or releases the lease); empty while it runs. */
  resume: string;
}

/**
 * @param flags appended to each suggested command (`--lake DIR`, or `--aws --stack NAME`)
 * @param running whether a maintenance command runs now on this dataset (locally: its work directory is in use);
 *   on AWS a held, unexpired lease says so
 * @param holderGone tells a lease whose holder process is gone (local lake): the next erase, compact or ingest
 *   takes it over, so it reads as interrupted, resumed by the same command
 */
export function maintenanceAttention(
  found: readonly UnfinishedMaintenance[],
  flags: string,
  running: (dataset: string) => boolean = () => false,
  holderGone: LeaseHolderGone = () => false,
): MaintenanceAttention[] {
  const leased = (dataset: string) =>
    found.some((f) => f.kind === 'lease' && f.dataset === dataset && !f.stale && !holderGone(f.lease));
  const busy = (dataset: string) => leased(dataset) || running(dataset);
  return found.map((f): MaintenanceAttention => {
    if (f.kind === 'lease' && holderGone(f.lease))
      return {
        kind: f.kind,
        dataset: f.dataset,
        id: f.lease.lease_id,
        started_at: f.lease.acquired_at,
        what: `lease ${f.lease.lease_id} (${f.lease.operation}) of ${f.lease.holder}, whose process ${f.lease.owner?.pid ?? ''} is gone (the next ${f.lease.operation} or ingest takes it over)`,
        state: 'interrupted',
        resume:
          f.lease.operation === 'compact'
            ? `npx lake compact --dataset ${f.dataset}${flags}`
            : `npx lake erase --dataset ${f.dataset} --where "<the predicate of the request>"${flags}`,
      };
    if (f.kind === 'lease')
      return {
        kind: f.kind,
        dataset: f.dataset,
        id: f.lease.lease_id,
        started_at: f.lease.acquired_at,
        what: `lease ${f.lease.lease_id} (${f.lease.operation}) held by ${f.lease.holder}`,
        state: f.stale ? 'stale lease' : 'running',
        resume: f.stale ? `npx lake unlock --dataset ${f.dataset} --lease ${f.lease.lease_id}${flags}` : '',
      };
    const state = busy(f.dataset) ? 'running' : 'interrupted';
    if (f.kind === 'compaction')
      return {
        kind: f.kind,
        dataset: f.dataset,
        id: f.compaction_id,
        started_at: f.started_at,
        what: `compaction ${f.compaction_id} of ${f.inputs} files in ${f.partition}`,
        state,
        resume: state === 'running' ? '' : `npx lake compact --dataset ${f.dataset}${flags}`,
      };
    return {
      kind: f.kind,
      dataset: f.dataset,
      id: f.erasure_id,
      started_at: f.started_at,
      what: `erasure ${f.erasure_id} by ${f.column} (${f.files_done} files done; requested by ${f.requested_by})`,
      state,
      resume:
        state === 'running'
          ? ''
          : `npx lake erase --dataset ${f.dataset} --where "${f.column} = <the value in the request>"${flags}`,
    };
  });
}

export function renderMaintenanceAttention(items: readonly MaintenanceAttention[], s: Style): string[] {
  if (items.length === 0) return [];
  return [
    `\n${s.bold('Unfinished maintenance')} ${s.dim('(run the command shown: a compaction finishes or undoes an interrupted one first; the same erasure resumes its record)')}\n`,
    renderTable(
      [
        { header: 'started' },
        { header: 'dataset' },
        { header: 'what' },
        { header: 'state' },
        { header: 'resume with' },
      ],
      items.map((m) => [
        formatTime(m.started_at),
        m.dataset,
        m.what,
        m.state === 'running' ? m.state : s.red(m.state),
        m.resume ? s.yellow(m.resume) : s.dim('(wait for it to finish)'),
      ]),
      { style: s, indent: '  ', maxCellWidth: 160 },
    ),
  ];
}
