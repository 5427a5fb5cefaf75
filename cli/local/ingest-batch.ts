/** Ingesting a batch of planned files with progress, and refreshing gold after it: shared by ingest, demo, watch, replay. */
import { describeHolder, LockBusyError } from '../../adapters/local/file-lock.ts';
import type { Manifest } from '../../engine/contract/index.ts';
import { MaintenanceLeaseHeldError } from '../../engine/index.ts';
import type { Io } from '../io.ts';
import { formatBytes, plural } from '../ui/format.ts';
import type { PlannedFile } from './ingest-plan.ts';
import { manifestLine } from './ingest-report.ts';
import { ingestPlannedFile } from './ingest-run.ts';
import type { LocalLake } from './lake.ts';
import { sweepAbandoned } from './work-dir.ts';

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
  const progress = io.progress();
  for (const [i, file] of files.entries()) {
    const label = files.length > 1 ? `[${i + 1}/${files.length}] ${file.key}` : file.key;
    progress.phase(label);
    try {
      const manifest = await ingestPlannedFile(lake, file, {
        onStep: (step) => progress.phase(`${label}: ${step}`),
        onNote: (text) => io.note(io.errStyle.yellow(text)),
      });
      progress.stop();
      manifests.push(manifest);
      if (!options.quiet) io.print(manifestLine(manifest, io.style));
    } catch (e) {
      progress.stop();
      const error = e instanceof MaintenanceLeaseHeldError ? leaseHeldMessage(e, file.path) : (e as Error).message;
      failures.push({ key: file.key, error });
      io.note(`${io.errStyle.red(`✗ ${file.key} failed: ${error}`)}\n`);
    }
  }
  return { manifests, failures };
}

/** An ingest that met a maintenance lease: what happened (nothing lost) and the command to run again. */
export function leaseHeldMessage(e: MaintenanceLeaseHeldError, path: string): string {
  return `${e.message}. Nothing was written to silver (the file is kept in bronze): run \`lake ingest ${path}\` again when the ${e.lease.operation === 'erase' ? 'erasure' : 'compaction'} has finished`;
}

/**
 * What became of the gold refresh after an ingest. `deferred`: another process was refreshing and outlasted
 * the wait; it was asked to include this ingest (see refreshGoldLocal). `failed`: the refresh itself failed.
 * Silver is complete either way: the ingest succeeded.
 */
export type GoldOutcome =
  { kind: 'refreshed'; line: string } | { kind: 'deferred'; line: string } | { kind: 'failed'; line: string };

/** Gold follows silver: refreshed after every batch, never failing the ingest before it. */
export async function refreshGoldAfterIngest(
  lake: LocalLake,
  io: Io,
  options: { lockWaitMs?: number } = {},
): Promise<GoldOutcome> {
  const progress = io.progress();
  progress.phase('refreshing gold');
  try {
    const { plan, rows } = await lake.refreshGold({
      lockWaitMs: options.lockWaitMs,
      onWait: (holder) => progress.phase(`waiting for the gold refresh of ${describeHolder(holder)}`),
    });
    progress.stop();
    if (plan.kind === 'noop') return { kind: 'refreshed', line: `gold ${plan.table.name} already up to date` };
    const months = plan.months.length ? `${plan.months[0]}…${plan.months[plan.months.length - 1]}` : 'no months';
    const written = Object.values(rows).reduce((a, b) => a + b, 0);
    return {
      kind: 'refreshed',
      line: `gold ${plan.table.name} refreshed (${plan.kind}, ${months}, ${plural(written, 'row')})`,
    };
  } catch (e) {
    progress.stop();
    if (e instanceof LockBusyError) {
      return {
        kind: 'deferred',
        line: `gold not refreshed here: another refresh (${describeHolder(e.holder)}) is still running and picks up new ingests while it runs; \`lake status\` shows whether gold is up to date (\`lake replay\` refreshes it)`,
      };
    }
    return { kind: 'failed', line: `silver is complete, but the gold refresh failed: ${(e as Error).message}` };
  }
}

/** Prints a gold outcome: a result line on stdout (none with `--json`), a warning on stderr. */
export function reportGold(outcome: GoldOutcome, io: Io, json = false): void {
  if (outcome.kind === 'refreshed') {
    if (!json) io.print(`${io.style.dim(outcome.line)}\n`);
  } else if (outcome.kind === 'deferred') io.note(`${io.errStyle.yellow(`! ${outcome.line}`)}\n`);
  else io.note(`${io.errStyle.red(`✗ ${outcome.line}`)}\n`);
}

/** Before writing: removes scratch space and half-written copies that crashed runs left, and says so. */
export async function cleanUpAbandoned(lake: LocalLake, io: Io): Promise<void> {
  const { removed, bytes } = await sweepAbandoned(lake.dir);
  if (removed.length === 0) return;
  io.note(
    io.errStyle.dim(
      `removed ${plural(removed.length, 'leftover')} of crashed runs (${formatBytes(bytes)}): ${removed.join(', ')}\n`,
    ),
  );
}
