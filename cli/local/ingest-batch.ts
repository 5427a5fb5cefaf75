/** Ingesting a batch of planned files with progress, and refreshing gold after it: shared by ingest, demo, watch. */
import type { Manifest } from '../../engine/manifest.ts';
import { CommandFailed } from '../errors.ts';
import type { Io } from '../io.ts';
import { plural } from '../ui/format.ts';
import type { PlannedFile } from './ingest-plan.ts';
import { manifestLine } from './ingest-report.ts';
import { ingestPlannedFile } from './ingest-run.ts';
import type { LocalLake } from './lake.ts';

export interface IngestFailure {
  key: string;
  error: string;
}

/** Ingests planned files one by one with progress; a failing file does not stop the others. */
export async function runLocalIngest(
  lake: LocalLake,
  files: readonly PlannedFile[],
  io: Io,
  options: { quiet?: boolean } = {},
): Promise<{ manifests: Manifest[]; failures: IngestFailure[] }> {
  const manifests: Manifest[] = [];
  const failures: IngestFailure[] = [];
  const progress = io.progress('bytes');
  for (const [i, file] of files.entries()) {
    const label = files.length > 1 ? `[${i + 1}/${files.length}] ${file.key}` : file.key;
    progress.start(label, file.size);
    try {
      const manifest = await ingestPlannedFile(lake, file, {
        onBytes: (n) => progress.set(n),
        onRead: () => progress.phase(`${label}: validating, writing Parquet`),
      });
      progress.stop();
      manifests.push(manifest);
      if (!options.quiet) io.print(manifestLine(manifest, io.style));
    } catch (e) {
      progress.stop();
      failures.push({ key: file.key, error: (e as Error).message });
      io.note(`${io.errStyle.red(`✗ ${file.key} failed: ${(e as Error).message}`)}\n`);
    }
  }
  return { manifests, failures };
}

/** Gold follows silver: refreshed after every batch. Returns a one-line description. */
export async function refreshGoldWithProgress(lake: LocalLake, io: Io): Promise<string> {
  const progress = io.progress();
  progress.phase('refreshing gold');
  try {
    const { plan, rows } = await lake.refreshGold();
    progress.stop();
    if (plan.kind === 'noop') return `gold ${plan.table.name} already up to date`;
    const months = plan.months.length ? `${plan.months[0]}…${plan.months[plan.months.length - 1]}` : 'no months';
    const written = Object.values(rows).reduce((a, b) => a + b, 0);
    return `gold ${plan.table.name} refreshed (${plan.kind}, ${months}, ${plural(written, 'row')})`;
  } catch (e) {
    progress.stop();
    throw new CommandFailed(`silver is up to date but the gold refresh failed: ${(e as Error).message}`, 'run the command again (the refresh resumes)');
  }
}
