/** Scratch space of the local lake: what crashed runs left is removed, what running ones use is kept. */
import { existsSync } from 'node:fs';
import { link, mkdir, mkdtemp, readdir, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { hostTag } from '../../../adapters/local/process-owner.ts';
import { activeWork, claimWorkDir, sweepAbandoned, workRoot } from '../../../cli/local/work-dir.ts';
import { deadPid } from '../../support/processes.ts';

/** Runs `work` with the clock `ms` ahead: what the sweep would find then (a file's times cannot be set in the past
 * for its change time). */
async function later(ms: number, work: () => Promise<void>): Promise<void> {
  const now = Date.now();
  const clock = jest.spyOn(Date, 'now').mockReturnValue(now + ms);
  try {
    await work();
  } finally {
    clock.mockRestore();
  }
}

describe('the lake scratch directory', () => {
  let lake: string;
  beforeEach(async () => {
    lake = await mkdtemp(join(tmpdir(), 'lake-work-'));
  });
  afterEach(() => rm(lake, { recursive: true, force: true }));

  it('removes the scratch and half-written copies of processes that are gone, keeps those of live ones', async () => {
    const dead = deadPid();
    const crashed = join(workRoot(lake), `${dead}-${hostTag()}-0badc0de`);
    await mkdir(join(crashed, 'lake-ingest-abc123', 'spill'), { recursive: true });
    await writeFile(join(crashed, 'lake-ingest-abc123', 'input.raw'), Buffer.alloc(4096));
    const running = await claimWorkDir(lake, { command: 'ingest', sourceKey: 'transactions/b.csv' });
    await mkdir(join(lake, 'bronze/transactions'), { recursive: true });
    const deadCopy = join(lake, 'bronze/transactions', `a.csv.${dead}-${hostTag()}-12345678.tmp`);
    const liveCopy = join(lake, 'bronze/transactions', `b.csv.${process.pid}-${hostTag()}-12345678.tmp`);
    const legacyOld = join(lake, 'silver', 'x.parquet.0f8fad5b-d9cb-469f-a165-70867728950e.tmp');
    const legacyNew = join(lake, 'silver', 'y.parquet.7c9e6679-7425-40de-944b-e07fc1f90ae7.tmp');
    const someonesData = join(lake, 'bronze/transactions', 'notes.tmp');
    await mkdir(join(lake, 'silver'), { recursive: true });
    for (const f of [deadCopy, liveCopy, legacyOld, legacyNew, someonesData]) await writeFile(f, 'x');

    const { removed, bytes } = await sweepAbandoned(lake);
    expect(removed.sort()).toEqual([crashed, deadCopy].map((p) => p.slice(lake.length + 1)).sort());
    expect(bytes).toBeGreaterThanOrEqual(4096);
    for (const kept of [running.path, liveCopy, legacyNew, someonesData]) expect(existsSync(kept)).toBe(true);
    expect((await activeWork(lake)).map((w) => w.source_key)).toEqual(['transactions/b.csv']);

    // Two hours later: a copy of an earlier version's (no owner) is abandoned; a file of someone else's is not ours.
    await later(2 * 3600_000, async () => {
      const swept = await sweepAbandoned(lake);
      expect(swept.removed.sort()).toEqual([legacyOld, legacyNew].map((p) => p.slice(lake.length + 1)).sort());
    });
    for (const kept of [running.path, liveCopy, someonesData]) expect(existsSync(kept)).toBe(true);

    await running.release();
    expect(await readdir(workRoot(lake))).toEqual([]);
  });

  it('keeps the scratch of another host until it has not been touched for a day', async () => {
    const elsewhere = join(workRoot(lake), `4242-${hostTag('another-host')}-0badc0de`);
    await mkdir(elsewhere, { recursive: true });
    expect((await sweepAbandoned(lake)).removed).toEqual([]);
    await later(48 * 3600_000, async () => {
      expect((await sweepAbandoned(lake)).removed).toEqual([elsewhere.slice(lake.length + 1)]);
    });
  });

  it("keeps another host's file changed a moment ago (a link made: a handed-over copy, a lock marker), however old its modification time", async () => {
    await mkdir(join(lake, 'locks', 'objects'), { recursive: true });
    const source = join(lake, 'locks', 'objects', `put-marker.4242-${hostTag('another-host')}-0badc0de.tmp`);
    const marker = join(lake, 'locks', 'objects', `${'a'.repeat(40)}.put.4242-${hostTag('another-host')}-12345678.tmp`);
    await writeFile(source, '');
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    await utimes(source, twoDaysAgo, twoDaysAgo); // made two days ago, by a process still running there
    await link(source, marker); // its put's last step, now
    expect((await sweepAbandoned(lake)).removed).toEqual([]);
    await later(48 * 3600_000, async () => {
      expect((await sweepAbandoned(lake)).removed.sort()).toEqual(
        [source, marker].map((p) => p.slice(lake.length + 1)).sort(),
      );
    });
  });
});
