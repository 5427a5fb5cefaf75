/**
 * `lake status` shows maintenance that stopped part-way — a compaction killed between its upload and its
 * switch, an erasure killed after its first file — with the command that finishes each; running those
 * commands finishes them and the section goes away, nothing lost.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { LocalObjectStore } from '../../adapters/local/local-store.ts';
import { loadContracts } from '../../engine/contract/index.ts';
import { compactDataset, eraseRows } from '../../engine/index.ts';
import { writeTransactionsCsv, type GenerationReport } from '../../generator/generate.ts';
import { lake, scratchDir } from '../support/e2e/cli.ts';

describe('lake status: interrupted maintenance, and the command that finishes it', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let lakeDir: string;
  let report: GenerationReport;
  const run = (...args: string[]) => lake([...args, '--lake', lakeDir], { cwd: scratch.dir });
  const count = async (where = 'true') =>
    (
      JSON.parse(
        (await run('query', '--sql', `SELECT count(*) AS n FROM silver.transactions WHERE ${where}`, '--json')).stdout,
      ) as Array<{ n: number }>
    )[0]?.n;

  beforeAll(async () => {
    scratch = await scratchDir();
    lakeDir = join(scratch.dir, 'lake');
    const landing = join(scratch.dir, 'landing');
    await mkdir(landing);
    for (let i = 0; i < 3; i++)
      report = await writeTransactionsCsv(join(landing, `partner-${i}.csv`), {
        rows: 150,
        accounts: 3,
        from: '2024-01',
        to: '2024-02',
        firstId: i * 10_000,
        seed: 70 + i,
      });
    const r = await run('ingest', landing, '--dataset', 'transactions');
    expect(r.code, r.stderr).toBe(0);
  }, 120_000);
  afterAll(async () => scratch.remove());

  it('lists a killed compaction and a killed erasure with their resume commands; running them empties the list', async () => {
    const rowsBefore = await count();
    const account = report.accounts[0] as string;
    const accountRows = await count(`account_id = '${account}'`);
    expect(accountRows).toBeGreaterThan(0);
    const store = new LocalObjectStore(lakeDir);
    const contracts = loadContracts();
    await expect(
      compactDataset({
        store,
        contracts,
        dataset: 'transactions',
        workDir: join(scratch.dir, 'work'),
        beforeSwitch: () => Promise.reject(new Error('killed')),
      }),
    ).rejects.toThrow('killed');
    await expect(
      eraseRows({
        store,
        contracts,
        dataset: 'transactions',
        where: `account_id = '${account}'`,
        requestedBy: 'ticket-42',
        workDir: join(scratch.dir, 'work'),
        onFile: () => {
          throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');

    const status = await run('status');
    expect(status.code, status.stderr).toBe(0);
    expect(status.stdout).toMatch(/Unfinished maintenance/);
    expect(status.stdout).toMatch(/compaction [0-9a-f]{16} of \d+ files in transactions\/year=2024\/month=01\//);
    expect(status.stdout).toMatch(/erasure \S+ by account_id \(0 files done; requested by ticket-42\)/);
    expect(status.stdout).toContain(`npx lake compact --dataset transactions --lake`);
    expect(status.stdout).toContain(
      `npx lake erase --dataset transactions --where "account_id = <the value in the request>" --lake`,
    );
    const json = JSON.parse((await run('status', '--json')).stdout) as {
      unfinished_maintenance: Array<{ kind: string; state: string }>;
    };
    expect(json.unfinished_maintenance.map((m) => [m.kind, m.state])).toEqual([
      ['compaction', 'interrupted'],
      ['erasure', 'interrupted'],
    ]);

    const compact = await run('compact', '--dataset', 'transactions');
    expect(compact.code, compact.stderr).toBe(0);
    expect(compact.stdout).toMatch(/interrupted compaction \([0-9a-f]{16}\) was finished/);
    const erase = await run('erase', '--dataset', 'transactions', '--where', `account_id = '${account}'`, '--json');
    expect(erase.code, erase.stderr).toBe(0);
    expect(JSON.parse(erase.stdout)).toMatchObject({ status: 'completed', rows_removed: { silver: accountRows } });

    const after = await run('status', '--json');
    expect((JSON.parse(after.stdout) as { unfinished_maintenance: unknown[] }).unfinished_maintenance).toEqual([]);
    expect((await run('status')).stdout).not.toMatch(/Unfinished maintenance/);
    expect(await count()).toBe((rowsBefore as number) - (accountRows as number));
  });
});
