/**
 * `lake replay` on the local lake: re-ingest what bronze already holds (after a contract or engine fix, or a
 * failure). Outputs are keyed by each object's identity, so a replay rewrites the same files: never duplicates.
 */
import type { Manifest } from '../../engine/contract/index.ts';
import type { ReplayOptions } from '../actions/replay.ts';
import { CommandFailed } from '../errors.ts';
import type { Io } from '../io.ts';
import { formatCount, formatTime, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { cleanUpAbandoned, refreshGoldAfterIngest, reportGold } from './ingest-batch.ts';
import { ingestBronzeObject } from './ingest-run.ts';
import { manifestTable, totals, totalsLine } from './ingest-report.ts';
import { LocalLake } from './lake.ts';
import { requireLake } from './lake-dir.ts';

async function silverRowCount(lake: LocalLake): Promise<number> {
  const engine = await lake.openQueryEngine();
  try {
    let total = 0;
    for (const name of lake.contracts.names())
      total += Number((await engine.query(`SELECT COUNT(*) AS n FROM silver."${name}"`)).rows[0]?.n ?? 0);
    return total;
  } finally {
    await engine.close();
  }
}

export async function replayLocal(options: ReplayOptions, since: Date | undefined, io: Io): Promise<void> {
  const lake = LocalLake.open(requireLake(options.lake), { threads: options.threads });
  const prefix =
    options.prefix ??
    (options.dataset ? lake.contracts.get(lake.dataset(options.dataset))?.bronzePrefix : undefined) ??
    '';
  const objects = [];
  for await (const o of lake.store.list('bronze', prefix)) if (!since || o.lastModified >= since) objects.push(o);
  const where = `${prefix ? ` under ${prefix}` : ''}${since ? ` landed since ${formatTime(since)}` : ''}`;
  if (objects.length === 0) {
    if (options.json) io.print(renderJson([]));
    else io.print(`No bronze objects${where}: nothing to replay.\n`);
    return;
  }
  if (options.dryRun) {
    if (options.json)
      io.print(renderJson(objects.map((o) => ({ key: o.key, size: o.size, landed: o.lastModified.toISOString() }))));
    else
      io.print(
        `Would replay ${plural(objects.length, 'bronze object')}${where}:\n${objects.map((o) => `  ${o.key}\n`).join('')}`,
      );
    return;
  }

  await cleanUpAbandoned(lake, io);
  const before = await silverRowCount(lake);
  const progress = io.progress('items');
  const manifests: Manifest[] = [];
  const failures: string[] = [];
  progress.start('replaying', objects.length);
  for (const [i, o] of objects.entries()) {
    progress.set(i, `replaying [${i + 1}/${objects.length}] ${o.key}`);
    try {
      manifests.push(
        await ingestBronzeObject(lake, o.key, undefined, { onNote: (text) => io.note(io.errStyle.yellow(text)) }),
      );
    } catch (e) {
      failures.push(`${o.key}: ${(e as Error).message}`);
      io.note(io.errStyle.red(`✗ ${o.key}: ${(e as Error).message}\n`));
    }
  }
  progress.stop();
  const gold = manifests.length ? await refreshGoldAfterIngest(lake, io) : undefined;
  const after = await silverRowCount(lake);

  if (options.json) io.print(renderJson(manifests));
  else {
    io.print(`Replayed ${plural(manifests.length, 'bronze object')}${where}\n\n`);
    io.print(manifestTable(manifests, io.style));
    io.print(`\n${totalsLine(totals(manifests), io.style)}`);
    const same =
      before === after
        ? io.style.green('no duplicates: each source rewrote its own files')
        : io.style.yellow('the row count changed: the contract or engine now reads some rows differently');
    io.print(`silver rows: ${formatCount(before)} before, ${formatCount(after)} after — ${same}\n`);
  }
  if (gold) reportGold(gold, io, options.json);
  if (failures.length)
    throw new CommandFailed(
      `${failures.length} of ${plural(objects.length, 'object')} could not be replayed`,
      'fix the cause and replay again: replays are idempotent',
    );
  if (gold?.kind === 'failed')
    throw new CommandFailed(
      'gold could not be refreshed (the replay itself succeeded)',
      'replay again: the refresh resumes',
    );
}
