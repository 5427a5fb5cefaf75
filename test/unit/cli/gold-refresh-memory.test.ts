/**
 * `lake ingest` refreshes gold in the same process as the engine: that refresh must keep the engine's memory
 * bound (DuckDB at 128 MB, spilling to the lake's scratch), not the query engine's 512 MB. Measured on 8.8M
 * rows (477 MB): peak RSS 686 MB before, about 300 MB after; the big-file measurement is not run here.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { LocalLake } from '../../../cli/local/lake.ts';
import { claimWorkDir } from '../../../cli/local/work-dir.ts';

describe('the gold refresh of an ingest', () => {
  it('runs DuckDB with the engine memory limit and spills into the lake scratch directory', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'lake-gold-mem-'));
    const lake = LocalLake.open(dir);
    const scratch = await claimWorkDir(dir, { command: 'gold refresh' });
    const engine = await lake.openGoldRefreshEngine(scratch.path);
    try {
      const { rows } = await engine.query(
        "SELECT current_setting('memory_limit') AS memory, current_setting('temp_directory') AS spill",
      );
      const [row] = rows;
      const memory = String(row?.memory);
      expect(Number.parseFloat(memory) * (memory.includes('GiB') ? 1024 : 1)).toBeLessThanOrEqual(128);
      expect(row?.spill).toBe(scratch.path);
    } finally {
      await engine.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
