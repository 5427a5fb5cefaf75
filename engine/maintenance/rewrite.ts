/** Removing one run's rows from a shared (compacted) silver file: the file is replaced under its own key. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout } from 'node:timers/promises';
import { asCount, queryRows, withDuckDb } from '../duckdb.ts';
import { ObjectChangedError, type ObjectStore } from '../ports.ts';
import { SILVER_CODEC, sqlString } from '../sql.ts';
import { downloadTagged, MAINTENANCE_ROW_GROUP_SIZE } from './files.ts';

/** Attempts of one removal before it fails: each lost one found the file replaced since it was read. */
const REWRITE_ATTEMPTS = 5;

/**
 * Rewrites `key` without the rows of `runId` (its `ingest_run_id`); returns the rows removed (0: untouched).
 * For a source re-ingested under another run whose earlier rows a compaction had moved into a shared file. The file
 * is put back only over exactly the object read (`ifMatch`): the sources sharing it are re-ingested at once (a
 * replay of a dataset), each removing its own rows, and a plain put lost the removal of whichever put first (found by
 * a review: the rows came back, named by nothing). A file replaced meanwhile is read and rewritten again.
 */
export async function removeRunFromFile(
  store: ObjectStore,
  key: string,
  runId: string,
  workDir: string = tmpdir(),
): Promise<{ removed: number; left: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await removeRunOnce(store, key, runId, workDir);
    } catch (e) {
      if (!(e instanceof ObjectChangedError) || attempt >= REWRITE_ATTEMPTS) throw e;
      // The other writers of the file are doing the same: a random pause, longer each time, lets one of them through.
      await setTimeout(Math.random() * 250 * 2 ** attempt);
    }
  }
}

async function removeRunOnce(
  store: ObjectStore,
  key: string,
  runId: string,
  workDir: string,
): Promise<{ removed: number; left: number }> {
  await mkdir(workDir, { recursive: true });
  const work = await mkdtemp(join(workDir, 'lake-rewrite-'));
  try {
    const copy = await downloadTagged(store, 'silver', key, work);
    if (!copy) return { removed: 0, left: 0 };
    const { path } = copy;
    const out = join(work, 'out.parquet');
    const file = `read_parquet(${sqlString(path)}, hive_partitioning = false)`;
    const { removed, left } = await withDuckDb(
      { tempDirectory: join(work, 'spill') },
      `removing run ${runId} from ${key}`,
      async (db) => {
        const [c] = await queryRows(
          db,
          `SELECT count(*) FILTER (WHERE ingest_run_id = ${sqlString(runId)}) AS removed, count(*) FILTER (WHERE ingest_run_id IS DISTINCT FROM ${sqlString(runId)}) AS left FROM ${file}`,
        );
        const counts = { removed: asCount(c?.removed), left: asCount(c?.left) };
        if (counts.removed > 0) {
          await db.run(
            `COPY (SELECT * FROM ${file} WHERE ingest_run_id IS DISTINCT FROM ${sqlString(runId)}) TO ${sqlString(out)} (FORMAT parquet, ${SILVER_CODEC}, ROW_GROUP_SIZE ${MAINTENANCE_ROW_GROUP_SIZE})`,
          );
        }
        return counts;
      },
    );
    if (removed > 0) await store.putFile('silver', key, out, 'application/vnd.apache.parquet', { ifMatch: copy.etag });
    return { removed, left };
  } catch (e) {
    if (e instanceof ObjectChangedError) throw e;
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /NoSuchKey|not found/i.test((e as Error).message))
      return { removed: 0, left: 0 };
    throw e;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
