import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { writeTransactionsCsv, type GenerationReport } from '../../generator/generate.ts';
import type { Manifest } from '../../engine/contract/index.ts';
import { lake, scratchDir } from '../support/e2e/cli.ts';

describe('lake replay: re-ingesting bronze never duplicates', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  const reports: GenerationReport[] = [];
  const run = (...args: string[]) => lake([...args, '--lake', lakeDir], { cwd: scratch.dir });
  const snapshot = async () =>
    JSON.parse(
      (
        await run(
          'query',
          '--sql',
          'SELECT count(*) AS n, sum(amount) AS total, count(DISTINCT ingest_run_id) AS runs, min(ingested_at) AS first_landed FROM silver.transactions',
          '--json',
        )
      ).stdout,
    )[0];

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
    for (const [i, month] of ['2024-01', '2024-02'].entries()) {
      reports.push(
        await writeTransactionsCsv(join(scratch.dir, `${month}.csv`), {
          rows: 2000,
          accounts: 4,
          from: month,
          to: month,
          feed: { from: '2024-01', to: '2024-02' },
          firstId: i * 10_000,
        }),
      );
    }
    const r = await run('ingest', join(scratch.dir, '2024-01.csv'), join(scratch.dir, '2024-02.csv'));
    expect(r.code).toBe(0);
  });
  afterAll(async () => scratch.remove());

  it('replays every bronze object and leaves silver, quarantine and gold exactly as they were', async () => {
    const before = await snapshot();
    const quarantineBefore = (
      await run('query', '--sql', 'SELECT count(*) AS n FROM quarantine.transactions', '--json')
    ).stdout;
    const goldBefore = (
      await run(
        'query',
        '--sql',
        'SELECT * FROM gold.account_monthly_balance ORDER BY account_id, year, month',
        '--json',
      )
    ).stdout;

    const r = await run('replay');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/Replayed 2 bronze objects/);
    expect(r.stdout).toMatch(/silver rows: ([\d,]+) before, \1 after — no duplicates/);

    expect(await snapshot()).toEqual(before); // same rows, same sum, same run ids, same landing time
    expect((await run('query', '--sql', 'SELECT count(*) AS n FROM quarantine.transactions', '--json')).stdout).toBe(
      quarantineBefore,
    );
    expect(
      (
        await run(
          'query',
          '--sql',
          'SELECT * FROM gold.account_monthly_balance ORDER BY account_id, year, month',
          '--json',
        )
      ).stdout,
    ).toBe(goldBefore);
    expect(before.n).toBe(reports[0]!.validRows + reports[1]!.validRows);
  });

  it('filters by prefix, reports manifests with --json, and lists without changing anything on --dry-run', async () => {
    const dry = await run('replay', '--prefix', 'transactions/2024-02', '--dry-run');
    expect(dry.code).toBe(0);
    expect(dry.stdout).toBe('Would replay 1 bronze object under transactions/2024-02:\n  transactions/2024-02.csv\n');
    const json = await run('replay', '--prefix', 'transactions/2024-01', '--json');
    const manifests = JSON.parse(json.stdout) as Manifest[];
    expect(manifests.map((m) => m.source.key)).toEqual(['transactions/2024-01.csv']);
    expect(manifests[0]!.rows_valid).toBe(reports[0]!.validRows);
  });

  it('replays nothing for a time after the last landing, and says so', async () => {
    const r = await run('replay', '--since', '2999-01-01');
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/No bronze objects landed since 2999-01-01 00:00:00Z: nothing to replay/);
  });

  it('rejects a date it cannot read', async () => {
    const r = await run('replay', '--since', 'last tuesday');
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/error: --since: cannot read "last tuesday" as a date/);
  });
});
