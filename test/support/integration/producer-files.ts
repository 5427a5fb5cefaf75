/** Small producer files of transactions, put in bronze as `transactions/partner-<i>.csv` and ingested by the bundled function. */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { writeTransactionsCsv, type GenerationReport, type WriteOptions } from '../../../generator/generate.ts';
import { drain, putBronze, type LakeFixture } from './lake-fixture.ts';

export interface ProducerFiles {
  count: number;
  rows: number;
  from: string;
  to: string;
  /** File i is generated with seed `seed + i` and ids from `i * 10 000`. */
  seed: number;
  /** @default 0 */
  badRowRatio?: number;
  /** @default 3 */
  accounts?: number;
  /** @default 'partner' */
  name?: string;
}

/** Writes, uploads and ingests the files (the queue drained); the last file's generation report. */
export async function ingestProducerFiles(fx: LakeFixture, files: ProducerFiles): Promise<GenerationReport> {
  let report: GenerationReport | undefined;
  for (let i = 0; i < files.count; i++) {
    const name = `${files.name ?? 'partner'}-${i}.csv`;
    const path = join(fx.scratchDir, name);
    const options: WriteOptions = {
      rows: files.rows,
      accounts: files.accounts ?? 3,
      from: files.from,
      to: files.to,
      firstId: i * 10_000,
      seed: files.seed + i,
      badRowRatio: files.badRowRatio ?? 0,
    };
    report = await writeTransactionsCsv(path, options);
    await putBronze(fx, `transactions/${name}`, await readFile(path));
  }
  await drain(fx);
  if (!report) throw new Error('no producer file asked for');
  return report;
}
