import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LocalCatalog } from '../../../../adapters/local/local-catalog.ts';

describe('local catalog', () => {
  it('keeps every partition when many registrations race (same process and across catalogs on one file)', async () => {
    const root = await mkdtemp(join(tmpdir(), 'catalog-'));
    const catalogs = [new LocalCatalog(root), new LocalCatalog(root)];
    const months = Array.from({ length: 12 }, (_, i) => String(i + 1).padStart(2, '0'));
    await Promise.all(
      months.map((m, i) =>
        catalogs[i % 2]?.addPartitions('transactions', [
          { values: ['2024', m], prefix: `transactions/year=2024/month=${m}/` },
        ]),
      ),
    );
    expect((await catalogs[0]?.partitions('transactions'))?.map((p) => p.values[1])).toEqual(months);
  });

  it('treats an already registered partition as success and keeps its first registration', async () => {
    const root = await mkdtemp(join(tmpdir(), 'catalog-'));
    const catalog = new LocalCatalog(root);
    const spec = { values: ['2024', '01'], prefix: 'transactions/year=2024/month=01/' };
    await catalog.addPartitions('transactions', [spec]);
    const [first] = await catalog.partitions('transactions');
    await catalog.addPartitions('transactions', [spec]);
    expect(await catalog.partitions('transactions')).toEqual([first]);
  });
});
