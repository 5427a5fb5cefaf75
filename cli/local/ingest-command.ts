/** `lake ingest` on the local lake: plan, ingest, refresh gold, report. */
import type { IngestOptions } from '../actions/ingest.ts';
import { CommandFailed } from '../errors.ts';
import type { Io } from '../io.ts';
import { formatBytes, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { cleanUpAbandoned, refreshGoldAfterIngest, reportGold, runLocalIngest } from './ingest-batch.ts';
import { planLocalIngest, type LocalIngestPlan } from './ingest-plan.ts';
import { reasonsTable, reportSkipped, totals, totalsLine } from './ingest-report.ts';
import { LocalLake } from './lake.ts';
import { displayPath, lakeFlag, openOrCreateLake } from './lake-dir.ts';

export async function ingestLocal(paths: string[], options: IngestOptions, io: Io): Promise<void> {
  const lake = LocalLake.open(await openOrCreateLake(options.lake), { threads: options.threads });
  const checking = io.progress('bytes');
  checking.phase('checking files');
  let plan: LocalIngestPlan;
  try {
    plan = await planLocalIngest(lake, paths, { dataset: options.dataset });
  } finally {
    checking.stop();
  }
  const { files, skipped } = plan;
  reportSkipped(skipped, io);
  await cleanUpAbandoned(lake, io);
  if (!options.json) {
    const size = files.reduce((s, f) => s + f.size, 0);
    io.print(`Ingesting ${plural(files.length, 'file')} (${formatBytes(size)}) into ${displayPath(lake.dir)}\n`);
  }
  const { manifests, failures } = await runLocalIngest(lake, files, io, { quiet: options.json });
  const gold = manifests.length ? await refreshGoldAfterIngest(lake, io) : undefined;

  if (options.json) io.print(renderJson(manifests));
  else {
    const t = totals(manifests);
    io.print(`\n${totalsLine(t, io.style)}`);
    if (t.rowsQuarantined || t.rejectedFiles) io.print(`\nQuarantined, by reason:\n${reasonsTable(t, io.style)}`);
    if (gold?.kind === 'refreshed') io.print(`\n${io.style.dim(gold.line)}\n`);
    if (manifests.length) {
      const at = lakeFlag(lake.dir);
      const dataset = manifests[0]?.dataset ?? 'transactions';
      io.print(
        `\nNext:\n  npx lake status${at}\n  npx lake quarantine${at}\n  npx lake query${at} --sql "SELECT * FROM silver.${dataset} LIMIT 10"\n`,
      );
    }
  }
  if (gold && gold.kind !== 'refreshed') reportGold(gold, io);
  if (failures.length) {
    throw new CommandFailed(
      `${failures.length} of ${plural(files.length, 'file')} could not be ingested`,
      'fix the cause shown above and run the same command again: files already ingested are not duplicated',
    );
  }
  if (gold?.kind === 'failed') {
    throw new CommandFailed(
      'gold could not be refreshed (the ingest itself succeeded)',
      'run `lake replay`, or ingest again: the refresh resumes; `lake status` shows whether gold is up to date',
    );
  }
}
