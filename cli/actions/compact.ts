/** `lake compact`: the compaction use case (engine compactDataset) on the local lake, or on the deployed one (`--aws`). */
import {
  compactDataset,
  MaintenanceInputError,
  type CompactionReport,
  type CompactOptions,
} from '../../engine/index.ts';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { LocalLake } from '../local/lake.ts';
import { requireLake } from '../local/lake-dir.ts';
import { withLocalMaintenanceLease } from '../local/maintenance-lease.ts';
import { claimWorkDir } from '../local/work-dir.ts';
import { awsMode, type AwsOptions, type JsonOptions, type LakeOptions } from '../options.ts';
import { formatBytes, formatCount, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';

export interface CompactCommandOptions extends LakeOptions, JsonOptions, AwsOptions {
  dataset?: string;
  partition?: string;
  targetSize: string;
  dryRun?: boolean;
}

const UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
};

/** `128MB`, `512MiB`, `1GB`, `1048576`. */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$/i.exec(text);
  const unit = UNITS[(m?.[2] ?? '').toLowerCase()];
  const bytes = m && unit !== undefined ? Math.floor(Number(m[1]) * unit) : NaN;
  if (!(bytes >= 1))
    throw new UserError(
      `--target-size: cannot read "${text}" as a size`,
      'use e.g. 128MB, 512MiB, 1GB or a number of bytes',
    );
  return bytes;
}

/** The engine's refusals (unknown dataset, a partition not of the dataset) are the user's to fix (exit 2). */
export async function runCompaction(options: CompactOptions): Promise<CompactionReport> {
  try {
    return await compactDataset(options);
  } catch (e) {
    if (e instanceof MaintenanceInputError) throw new UserError(e.message);
    throw e;
  }
}

export function printCompaction(reports: readonly CompactionReport[], io: Io): void {
  const s = io.style;
  for (const r of reports) {
    for (const x of r.recovered)
      io.print(
        s.yellow(
          `${r.dataset}: an interrupted compaction (${x.compaction_id}) was ${x.outcome === 'left' ? 'found and left for a person to look at' : x.outcome === 'deferred' ? 'left for the next run (an ingest of its sources is in flight)' : x.outcome}\n`,
        ),
      );
    for (const x of r.repaired)
      io.print(
        s.yellow(
          `${r.dataset}: ${x.file}: rows of run ${x.run_id} ${x.action === 'repointed' ? 'claimed again by their manifest' : 'removed (the source was re-ingested)'}\n`,
        ),
      );
    if (r.groups.length === 0) {
      io.print(
        `${r.dataset}: nothing to compact (${plural(r.files_before, 'file')} in ${plural(r.partitions, 'partition')})\n`,
      );
      continue;
    }
    const verb = r.dry_run ? 'would compact' : 'compacted';
    io.print(
      `${r.dataset}: ${verb} ${plural(
        r.groups.reduce((n, g) => n + g.inputs.length, 0),
        'file',
      )} into ${plural(r.groups.length, 'file')} (${r.files_before} → ${r.files_after} files)\n\n`,
    );
    io.print(
      renderTable(
        [
          { header: 'partition' },
          { header: 'files', align: 'right' },
          { header: 'rows', align: 'right' },
          { header: 'before', align: 'right' },
          { header: 'after', align: 'right' },
          { header: 'status' },
        ],
        r.groups.map((g) => [
          g.partition,
          String(g.inputs.length),
          r.dry_run ? '' : formatCount(g.rows),
          formatBytes(g.bytes_before),
          g.bytes_after === null ? '' : formatBytes(g.bytes_after),
          g.status === 'changed' ? s.yellow('skipped: an ingest changed it') : g.status.replace('_', ' '),
        ]),
        { style: s },
      ),
    );
    if (r.unowned.length)
      io.print(
        s.dim(
          `${plural(r.unowned.length, 'file')} of unfinished ingests left alone (their next ingest removes them)\n`,
        ),
      );
    io.print('\n');
  }
  if (reports.some((r) => r.dry_run)) io.print(s.dim('dry run: nothing was written\n'));
}

async function compactLocal(options: CompactCommandOptions, targetBytes: number, io: Io): Promise<CompactionReport[]> {
  const lake = LocalLake.open(requireLake(options.lake));
  const datasets = options.dataset ? [lake.dataset(options.dataset)] : lake.contracts.names();
  const reports: CompactionReport[] = [];
  for (const dataset of datasets) {
    const compact = async () => {
      const scratch = await claimWorkDir(lake.dir, { command: 'compact' });
      const progress = io.progress();
      progress.phase(`compacting ${dataset}`);
      try {
        return await runCompaction({
          store: lake.store,
          contracts: lake.contracts,
          dataset,
          partition: options.partition,
          targetBytes,
          dryRun: options.dryRun,
          workDir: scratch.path,
        });
      } finally {
        progress.stop();
        await scratch.release();
      }
    };
    // A dry run writes nothing: it takes no lease (as on AWS), so ingests go on beside it.
    reports.push(
      options.dryRun
        ? await compact()
        : await withLocalMaintenanceLease(lake, dataset, 'compact', compact, {
            onWait: (who) => io.note(io.errStyle.dim(`waiting: ${who}…\n`)),
            onTakeover: (note) => io.note(io.errStyle.yellow(note)),
          }),
    );
  }
  return reports;
}

export async function compactAction(options: CompactCommandOptions, io: Io): Promise<void> {
  const targetBytes = parseSize(options.targetSize);
  if (options.partition && !options.dataset)
    throw new UserError('--partition needs --dataset', 'partitions are per dataset: add --dataset NAME');
  const aws = awsMode(options);
  let reports: CompactionReport[];
  if (aws) {
    const { compactOnAws } = await import('../aws/maintenance.ts');
    reports = await compactOnAws(
      aws,
      { dataset: options.dataset, partition: options.partition, targetBytes, dryRun: options.dryRun },
      io,
    );
  } else reports = await compactLocal(options, targetBytes, io);
  if (options.json) io.print(renderJson(reports));
  else printCompaction(reports, io);
}
