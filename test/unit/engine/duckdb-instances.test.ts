/**
 * A DuckDB instance handed from one chunk to the next gives back, between them, the memory it kept for reuse
 * (`shedBuffers`): what it holds then is about what a new instance would, and it works on as configured.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it, jest } from '@jest/globals';
import { expect } from '../../support/expect.ts';
import {
  createDuckDbInstance,
  memoryLimitBytes,
  queryRows,
  shedBuffers,
  withDuckDbInstance,
} from '../../../engine/duckdb.ts';
import { shedAbove } from '../../../engine/chunks/schedule.ts';
import { DuckDBInstance } from '@duckdb/node-api';

async function query(instance: DuckDBInstance, sql: string): Promise<Record<string, unknown>[]> {
  const connection = await instance.connect();
  try {
    return await queryRows(connection, sql);
  } finally {
    connection.closeSync();
  }
}

const rssMb = (): number => process.memoryUsage.rss() / 2 ** 20;

describe('shedBuffers', () => {
  // Whether freed pages go back to the system is the allocator's choice: glibc's, on Linux, gives them back.
  (process.platform === 'linux' ? it : it.skip)(
    'gives back the memory an idle instance kept after its work, and keeps its memory limit',
    async () => {
      const dir = await mkdtemp(join(tmpdir(), 'shed-'));
      const instance = await createDuckDbInstance({ tempDirectory: join(dir, 'spill'), memoryLimit: '200MB' });
      try {
        const limit = await query(instance, `SELECT current_setting('memory_limit') AS l`);
        // A sort of 2M rows: the instance ends it holding buffers it keeps for its next query (~150 MB measured).
        await query(
          instance,
          `COPY (SELECT range AS x, md5(range::VARCHAR) AS h FROM range(2000000) ORDER BY h) TO '${join(dir, 'sorted.parquet')}' (FORMAT parquet)`,
        );
        await query(instance, 'SELECT 1'); // another query frees nothing of it
        const kept = rssMb();
        await shedBuffers(instance, { memoryLimit: '200MB' });
        expect(kept - rssMb()).toBeGreaterThan(40);
        expect(await query(instance, `SELECT current_setting('memory_limit') AS l`)).toEqual(limit);
        expect(await query(instance, `SELECT count(*) AS n FROM '${join(dir, 'sorted.parquet')}'`)).toEqual([
          { n: 2000000n },
        ]);
      } finally {
        instance.closeSync();
      }
    },
  );
});

describe('withDuckDbInstance', () => {
  // Closing an instance failing is a fault no real DuckDB here produces on demand: injected (the next close throws).
  const scratch = async () => ({ tempDirectory: join(await mkdtemp(join(tmpdir(), 'with-instance-')), 'spill') });
  const closeFailsOnce = () =>
    jest.spyOn(DuckDBInstance.prototype, 'closeSync').mockImplementationOnce(() => {
      throw new Error('close failed');
    });

  it('gives what its work returned when closing the instance then fails: the work is done', async () => {
    const close = closeFailsOnce();
    try {
      const result = await withDuckDbInstance(await scratch(), async (shared) =>
        query(shared.instance as DuckDBInstance, 'SELECT 42 AS n'),
      );
      expect(result).toEqual([{ n: 42 }]);
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });

  it('fails with its work’s own error, not the close’s, and still closes the instance', async () => {
    const close = closeFailsOnce();
    try {
      await expect(
        withDuckDbInstance(await scratch(), async () => {
          throw new Error('the work failed');
        }),
      ).rejects.toThrow('the work failed');
      expect(close).toHaveBeenCalledTimes(1);
    } finally {
      close.mockRestore();
    }
  });
});

describe('the memory budget of the chunks’ sessions (shedAbove)', () => {
  it('reads a DuckDB memory limit in the units it knows (decimal and binary, any case), else undefined', () => {
    expect(memoryLimitBytes('128MB')).toBe(128e6);
    expect(memoryLimitBytes('1GiB')).toBe(2 ** 30);
    expect(memoryLimitBytes(' 1.5 gb ')).toBe(1.5e9);
    expect(memoryLimitBytes('512KiB')).toBe(512 * 1024);
    for (const unread of ['80%', '128', 'MB', '1e3MB', ''])
      expect(memoryLimitBytes(unread), JSON.stringify(unread)).toBeUndefined();
  });

  it('is the process’s 128 MiB and, per session, its memory limit and 64 MiB; 0 (always shed) for a limit it cannot read', () => {
    expect(shedAbove(1, '128MB')).toBe(2 ** 27 + 128e6 + 2 ** 26);
    expect(shedAbove(2, '1GiB')).toBe(2 ** 27 + 2 * (2 ** 30 + 2 ** 26));
    expect(shedAbove(2, '80%')).toBe(0);
  });
});
