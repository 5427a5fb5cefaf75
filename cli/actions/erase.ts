/** `lake erase`: the erasure use case (engine eraseRows) on the local lake, or on the deployed one (`--aws`). */
import { eraseRows, MaintenanceInputError, type EraseOptions, type ErasureRecord } from '../../engine/index.ts';
import { CommandFailed, UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { refreshGoldAfterIngest, reportGold } from '../local/ingest-batch.ts';
import { LocalLake, LOCAL_PII_SALT } from '../local/lake.ts';
import { requireLake } from '../local/lake-dir.ts';
import { localIdentity } from '../local/identity.ts';
import { withLocalMaintenanceLease } from '../local/maintenance-lease.ts';
import { inFlightNote, pendingIngests } from '../pending-ingests.ts';
import { claimWorkDir } from '../local/work-dir.ts';
import { awsMode, type AwsOptions, type JsonOptions, type LakeOptions } from '../options.ts';
import { formatCount, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';

export interface EraseCommandOptions extends LakeOptions, JsonOptions, AwsOptions {
  dataset: string;
  where: string;
  dryRun?: boolean;
  requestedBy?: string;
  piiSaltSecret?: string;
}

export { localIdentity };

/** The engine's refusals of a predicate are the user's to fix (exit 2). */
export async function runErasure(options: EraseOptions): Promise<ErasureRecord> {
  try {
    return await eraseRows(options);
  } catch (e) {
    if (e instanceof MaintenanceInputError)
      throw new UserError(e.name === 'PredicateError' ? `--where: ${e.message}` : e.message);
    throw e;
  }
}

export function printErasure(record: ErasureRecord, io: Io): void {
  const s = io.style;
  const verb = record.dry_run ? 'Would remove' : 'Removed';
  const total = record.rows_removed.silver + record.rows_removed.quarantine;
  if (total === 0) {
    io.print(
      `No row of ${record.dataset} matches ${record.predicate.column} = <the value>: nothing ${record.dry_run ? 'would change' : 'changed'}.\n`,
    );
  } else {
    io.print(
      `${verb} ${plural(record.rows_removed.silver, 'silver row')} and ${plural(record.rows_removed.quarantine, 'quarantined row')} of ${record.dataset} where ${record.predicate.column} = <the value>, in ${plural(record.files.length, 'file')}:\n\n`,
    );
    io.print(
      renderTable(
        [
          { header: 'zone' },
          { header: 'file' },
          { header: 'rows before', align: 'right' },
          { header: 'removed', align: 'right' },
        ],
        record.files.map((f) => [f.zone, f.key, formatCount(f.rows_before), formatCount(f.rows_removed)]),
        { style: s },
      ),
    );
    io.print('\nby source:\n');
    io.print(
      renderTable(
        [
          { header: 'source' },
          { header: 'run' },
          { header: 'silver rows removed', align: 'right' },
          { header: 'quarantined rows removed', align: 'right' },
        ],
        record.sources.map((x) => [
          x.source_key ?? '(no manifest)',
          x.run_id,
          formatCount(x.rows_valid_removed),
          formatCount(x.rows_quarantined_removed),
        ]),
        { style: s },
      ),
    );
    if (record.months.length) io.print(`\ngold months to recompute: from ${record.months[0]} on\n`);
  }
  if (record.dry_run) io.print(s.dim('dry run: nothing was written\n'));
  else
    io.print(
      s.dim(
        `erasure record: silver/_audit/erasures/${record.dataset}/${record.erasure_id}.json (value hashed: ${record.predicate.value_hash.slice(0, 16)}…)\n`,
      ),
    );
  io.print(s.dim('bronze is not rewritten: see docs/runbook.md, "Erasure requests"\n'));
}

async function eraseLocal(options: EraseCommandOptions, io: Io): Promise<void> {
  const lake = LocalLake.open(requireLake(options.lake));
  const dataset = lake.dataset(options.dataset);
  const erase = async () => {
    const scratch = await claimWorkDir(lake.dir, { command: 'erase' });
    try {
      const progress = io.progress('items');
      progress.start('scanning files');
      try {
        return await runErasure({
          store: lake.store,
          contracts: lake.contracts,
          dataset,
          where: options.where,
          piiSalt: LOCAL_PII_SALT,
          requestedBy: options.requestedBy ?? localIdentity(),
          dryRun: options.dryRun,
          workDir: scratch.path,
          onFile: (key, i, total) => progress.set(i + 1, `scanning [${i + 1}/${total}] ${key}`),
        });
      } finally {
        progress.stop();
      }
    } finally {
      await scratch.release();
    }
  };
  // A dry run writes nothing: it takes no lease (as on AWS), so ingests go on beside it.
  let inFlight: string[] = [];
  const record = options.dryRun
    ? await erase()
    : await withLocalMaintenanceLease(
        lake,
        dataset,
        'erase',
        async () => {
          // Ingests that passed their lease check before the lease existed may still write: name them.
          inFlight = await pendingIngests(lake.store, dataset);
          return erase();
        },
        {
          onWait: (who) => io.note(io.errStyle.dim(`waiting: ${who}…\n`)),
          onTakeover: (note) => io.note(io.errStyle.yellow(note)),
        },
      );
  if (inFlight.length) io.note(io.errStyle.yellow(inFlightNote(dataset, inFlight)));
  const gold = record.dry_run ? undefined : await refreshGoldAfterIngest(lake, io);
  if (options.json) io.print(renderJson(record));
  else printErasure(record, io);
  if (gold) reportGold(gold, io, options.json);
  if (gold?.kind === 'failed')
    throw new CommandFailed(
      'gold could not be refreshed (silver and quarantine are erased)',
      'run the same erasure again: it finds nothing more and refreshes gold',
    );
}

export async function eraseAction(options: EraseCommandOptions, io: Io): Promise<void> {
  const aws = awsMode(options);
  if (!aws && options.piiSaltSecret && process.env.LAKE_PII_SALT_SECRET !== options.piiSaltSecret)
    throw new UserError('--pii-salt-secret only applies in AWS mode', 'the local lake hashes without a salt');
  if (aws) {
    const { eraseOnAws } = await import('../aws/maintenance.ts');
    await eraseOnAws(aws, options, io);
  } else await eraseLocal(options, io);
}
