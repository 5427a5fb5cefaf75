/**
 * Planning and copying local ingests: symbolic links are never followed, "in the lake" means "has a
 * manifest", and bronze takes one version of a name, exactly the bytes that were planned.
 */
import { appendFile, copyFile, mkdir, mkdtemp, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { BronzeConflictError, planFiles } from '../../../cli/local/ingest-plan.ts';
import { copyIntoBronze, ingestPlannedFile, InputChangedError } from '../../../cli/local/ingest-run.ts';
import { findInputFiles, SYMLINK_REASON } from '../../../cli/local/input-files.ts';
import { LocalLake } from '../../../cli/local/lake.ts';

const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp\n';

describe('planning a local ingest', () => {
  let dir: string;
  let lake: LocalLake;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lake-plan-'));
    lake = LocalLake.open(join(dir, 'lake'));
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function csv(name: string, rows: string[]): Promise<string> {
    const path = join(dir, name);
    await mkdir(dirname(path), { recursive: true });
    await writeFile(path, HEADER + rows.map((r) => `${r}\n`).join(''));
    return path;
  }

  const plan = async (path: string) =>
    (await planFiles(lake, (await findInputFiles([path])).files, lake.contracts.get('transactions')))[0];

  it('never follows a symbolic link, as an argument or inside a directory, and names each one skipped', async () => {
    const landing = join(dir, 'landing');
    await mkdir(join(landing, 'sub'), { recursive: true });
    await writeFile(join(landing, 'real.csv'), HEADER);
    await symlink('/etc/passwd', join(landing, 'passwd.csv'));
    await symlink('/etc', join(landing, 'etc'));
    const found = await findInputFiles([landing]);
    expect(found.files.map((f) => f.relative)).toEqual(['real.csv']);
    expect(found.skipped.map((k) => [k.path, k.reason]).sort()).toEqual([
      [join(landing, 'etc'), SYMLINK_REASON],
      [join(landing, 'passwd.csv'), SYMLINK_REASON],
    ]);

    const argument = await findInputFiles([join(landing, 'passwd.csv'), join(landing, 'real.csv')]);
    expect(argument.files.map((f) => f.path)).toEqual([join(landing, 'real.csv')]);
    expect(argument.skipped).toEqual([{ path: join(landing, 'passwd.csv'), reason: SYMLINK_REASON }]);
    await expect(findInputFiles([join(landing, 'passwd.csv')])).rejects.toThrow(
      /nothing to ingest \(skipped .*passwd\.csv: a symbolic link/,
    );
  });

  it('a file copied into bronze whose ingest never finished is not "in the lake": it is planned for ingest', async () => {
    const path = await csv('jan.csv', ['T1,ACC001,10.00,EUR,2024-01-02T10:00:00Z']);
    await mkdir(join(lake.dir, 'bronze/transactions'), { recursive: true });
    await copyFile(path, lake.bronzePath('transactions/jan.csv')); // the copy a killed watcher made
    const before = await plan(path);
    expect(before).toMatchObject({ key: 'transactions/jan.csv', inBronze: true, ingested: false });

    const manifest = await ingestPlannedFile(lake, before as NonNullable<typeof before>);
    expect(manifest.rows_in).toBe(manifest.rows_valid + manifest.rows_quarantined);
    expect(manifest.rows_valid).toBe(1);
    expect(await plan(path)).toMatchObject({ inBronze: true, ingested: true });
  });

  it('two different files planned for one name before either is copied: the second copy is refused, bronze keeps the first', async () => {
    const a = await csv('a/x.csv', ['A1,ACC001,1.00,EUR,2024-01-02T10:00:00Z']);
    const b = await csv('b/x.csv', [
      'B1,ACC002,2.00,EUR,2024-01-03T10:00:00Z',
      'B2,ACC002,3.00,EUR,2024-01-03T11:00:00Z',
    ]);
    const [planA, planB] = [await plan(a), await plan(b)];
    expect(planA?.key).toBe('transactions/x.csv');
    expect(planB?.key).toBe('transactions/x.csv');

    await copyIntoBronze(lake, planA as NonNullable<typeof planA>);
    const refused = await copyIntoBronze(lake, planB as NonNullable<typeof planB>).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(BronzeConflictError);
    expect((refused as Error).message).toMatch(/^bronze already holds a different transactions\/x\.csv .*NOT ingested/);
    await copyIntoBronze(lake, planA as NonNullable<typeof planA>); // the same bytes again: fine
    expect(await readFile(lake.bronzePath('transactions/x.csv'), 'utf8')).toBe(await readFile(a, 'utf8'));
  });

  it('a file that changes after it was planned is not copied', async () => {
    const path = await csv('growing.csv', ['G1,ACC001,1.00,EUR,2024-01-02T10:00:00Z']);
    const planned = await plan(path);
    await appendFile(path, 'G2,ACC001,2.00,EUR,2024-01-02T11:00:00Z\n');
    await expect(copyIntoBronze(lake, planned as NonNullable<typeof planned>)).rejects.toBeInstanceOf(
      InputChangedError,
    );
    expect(await readdir(join(lake.dir, 'bronze/transactions'))).toEqual([]);
  });
});
