/** Removing one run's rows from a shared (compacted) silver file: the file is replaced under its own key. */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { asCount, queryRows, withDuckDb } from '../duckdb.ts';
import type { ObjectStore } from '../ports.ts';
import { SILVER_CODEC, sqlString } from '../sql.ts';
import { download, MAINTENANCE_ROW_GROUP_SIZE } from './files.ts';

/**
 * Rewrites `key` without the rows of `runId` (its `ingest_run_id`); returns the rows removed (0: untouched).
 * For a source re-ingested under another run whose earlier rows a compaction had moved into a shared file.
 */
export async function removeRunFromFile(
  store: ObjectStore,
  key: string,
  runId: string,
  workDir: string = tmpdir(),
): Promise<{ removed: number; left: number }> {
  await mkdir(workDir, { recursive: true });
  const work = await mkdtemp(join(workDir, 'lake-rewrite-'));
  try {
    const path = await download(store, 'silver', key, work);
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
    if (removed > 0) await store.putFile('silver', key, out, 'application/vnd.apache.parquet');
    return { removed, left };
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT' || /NoSuchKey|not found/i.test((e as Error).message))
      return { removed: 0, left: 0 };
    throw e;
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
