/**
 * An ingest tells an observer of each of its phases as it ends: what `npm run bench -- --phases` prints. The
 * phases are checked for presence and order only (never for how long they took).
 */
import { readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import type { Manifest } from '../../../engine/index.ts';
import { expect } from '../../support/expect.ts';
import { createTestLake, HEADER } from '../../support/local-lake.ts';
import { contractsWithReadings, READING_COLUMNS, row, rows } from '../../support/unit/ingest-inputs.ts';

const contracts = contractsWithReadings([{ ...READING_COLUMNS[0]!, aliases: ['id'] }, READING_COLUMNS[1]!]);
/** 20,012 rows (~0.79 MB) with two rejected ones: 8 chunks of ~100 kB, chunks 0 and 3 with a quarantine. */
const TEXT =
  [HEADER, ...rows(1, 20), row(21, 'bad'), ...rows(22, 9_990), row(9_991, 'bad'), ...rows(9_992, 10_000)].join('\n') +
  '\n';

interface Phase {
  phase: string;
  startMs: number;
  endMs: number;
}

async function phasesOf(engine: { chunking?: { chunkBytes: number; minBytesToChunk: number }; threads?: number }) {
  const seen: Phase[] = [];
  const lake = await createTestLake(contracts, {
    ...engine,
    onPhase: (phase, startMs, endMs) => seen.push({ phase, startMs, endMs }),
  });
  const manifest = await lake.ingest('transactions/t.csv', TEXT);
  const named = (name: string): Phase => {
    const found = seen.filter((p) => p.phase === name);
    expect(found.map((p) => p.phase)).toEqual([name]); // once each
    return found[0] as Phase;
  };
  return { seen, manifest, named };
}

/**
 * Whether chunk 0 gave its session to a chunk waiting for one as its routed pass ended. Its rejects pass then waits
 * for a spare session, one no chunk is waiting for: by then at least two later chunks have begun their routed pass
 * (the one given its session, and the chunks queued behind it — `TEXT` has enough of them: the first test checks it
 * makes more than 5 chunks), unless the ingest failed meanwhile and the pass never ran. A chunk that kept its
 * session goes on to its rejects pass at once — also after offering it, when the waiting chunk got a session freed
 * meanwhile (at most that one chunk begins in between).
 */
function chunk0GaveItsSession(seen: readonly Phase[]): boolean {
  const routed = seen.find((p) => p.phase === 'chunk 0 routed');
  const rejects = seen.find((p) => p.phase === 'chunk 0 rejects');
  if (!routed) return false;
  if (!rejects) return true;
  const begunMeanwhile = seen.filter(
    (p) => /^chunk ([2-9]|\d{2,}) routed$/.test(p.phase) && routed.endMs <= p.startMs && p.startMs <= rejects.startMs,
  );
  return begunMeanwhile.length >= 2;
}

/**
 * Ingests until chunk 0 gives its session away (`chunk0GaveItsSession`), at most `INGESTS` times; `ingest` checks what
 * must hold of every run. Chunk 0 gives its session away when a chunk is waiting for one as its routed pass ends.
 * That wait starts on the JavaScript thread, while DuckDB's passes run on threads of their own, so a stall of that
 * thread (a long garbage collection in a busy test process) can let chunk 0's pass end first: chunk 0 then rightly
 * keeps its session, and that ingest says nothing of the hand-over.
 */
async function untilChunk0GivesItsSession<T extends { seen: Phase[] }>(ingest: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const run = await ingest();
    if (chunk0GaveItsSession(run.seen)) return run;
    if (attempt === INGESTS) throw new Error(`chunk 0 did not give its session away in any of ${INGESTS} ingests`);
  }
}
const INGESTS = 4;

/** A succeeded ingest with the counts of `expected` (a clean ingest of the same text). */
function expectSameCounts(m: Manifest, expected: Manifest): void {
  expect(m.status).toBe('succeeded');
  expect([m.rows_in, m.rows_valid, m.rows_quarantined]).toEqual([
    expected.rows_in,
    expected.rows_valid,
    expected.rows_quarantined,
  ]);
}

describe('phases of an ingest', () => {
  it('a chunked ingest: spool, scan, every chunk (the first two per session written as they were scanned; rejects and quarantine deferred to a spare session), merge, publish, cleanup', async () => {
    // Checked on every ingest; the hand-over on the one returned.
    const ingest = async () => {
      const run = await phasesOf({ chunking: { chunkBytes: 100_000, minBytesToChunk: 0 }, threads: 2 });
      const { seen, manifest, named } = run;
      const chunks = manifest.engine.chunks ?? 0;
      expect(chunks).toBeGreaterThan(5);
      for (const p of seen) expect(p.endMs).toBeGreaterThanOrEqual(p.startMs);
      const transform = named('transform');
      const publish = named('publish');
      expect(named('spool').startMs).toBeLessThanOrEqual(transform.endMs);
      expect(named('scan').endMs).toBeLessThanOrEqual(transform.endMs);
      expect(named('quarantine merge').endMs).toBeLessThanOrEqual(transform.endMs);
      expect(transform.endMs).toBeLessThanOrEqual(publish.startMs);
      expect(publish.endMs).toBeLessThanOrEqual(named('cleanup').startMs);
      const copied = seen.filter((p) => p.phase.endsWith(' copy')).map((p) => Number(p.phase.split(' ')[1]));
      expect(copied.sort((a, b) => a - b)).toEqual(Array.from({ length: chunks - 4 }, (_, i) => i + 4)); // 0-3 teed while scanned
      for (let i = 0; i < chunks; i++) {
        const routed = named(`chunk ${i} routed`);
        const rejects = named(`chunk ${i} rejects`);
        expect(routed.endMs).toBeLessThanOrEqual(rejects.startMs);
        // Its silver files are finished after its routed pass wrote them (once its session needs it no more).
        expect(routed.endMs).toBeLessThanOrEqual(named(`chunk ${i} silver footers`).startMs);
        if (i >= 4) expect(named(`chunk ${i} copy`).endMs).toBeLessThanOrEqual(routed.startMs);
      }
      // At most two sessions' DuckDB work at once.
      const duckDbWork = seen.filter((p) => /^chunk \d+ (routed|rejects|quarantine|shed)$/.test(p.phase));
      for (const { startMs } of duckDbWork)
        expect(duckDbWork.filter((p) => p.startMs <= startMs && startMs < p.endMs).length).toBeLessThanOrEqual(2);
      // The two chunks with a rejected row write their quarantine, each after its rejects pass.
      const quarantined = seen.filter((p) => /^chunk \d+ quarantine$/.test(p.phase));
      expect(quarantined).toHaveLength(2);
      expect(quarantined.map((q) => q.phase)).toContain('chunk 0 quarantine');
      for (const q of quarantined) {
        expect(named(q.phase.replace('quarantine', 'rejects')).endMs).toBeLessThanOrEqual(q.startMs);
      }
      return run;
    };
    // A chunk whose pass ends while another chunk waits for a session gives it its session, and runs its rejects pass
    // (and quarantine) once a session is spare; its silver footers are rewritten as it gives its session, not held
    // back until its spare one.
    const { named } = await untilChunk0GivesItsSession(ingest);
    expect(named('chunk 0 silver footers').startMs).toBeLessThanOrEqual(named('chunk 0 rejects').startMs);
  });

  it('a chunk failing while another waits for a spare session fails the ingest, no hang, nothing published; the next delivery succeeds', async () => {
    // The fault, injected as chunk 2's routed pass ends (chunk 0, its pass done with a row to quarantine, gave its
    // session to a chunk waiting for one and waits for a spare one meanwhile): chunk 2's silver files vanish, so
    // their footer rewrite fails. (An observer's exceptions are ignored: `injected` says it got this far.)
    const failingIngest = async () => {
      const seen: Phase[] = [];
      let injected = false;
      const lake = await createTestLake(contracts, {
        chunking: { chunkBytes: 100_000, minBytesToChunk: 0 },
        threads: 2,
        onPhase: (phase, startMs, endMs) => {
          seen.push({ phase, startMs, endMs });
          if (injected || phase !== 'chunk 2 routed') return;
          for (const entry of readdirSync(lake.root, { recursive: true, encoding: 'utf8' }))
            if (/chunks-out\/.*\/chunk-00002-part_\d+\.parquet$/.test(entry)) rmSync(join(lake.root, entry));
          injected = true;
        },
      });
      // Bounded: a chunk left waiting for a spare session that never comes fails the test instead of hanging it.
      const failed = await Promise.race([
        lake.ingest('transactions/t.csv', TEXT).then(
          () => undefined,
          (e: unknown) => e,
        ),
        new Promise((_, reject) =>
          setTimeout(() => reject(new Error('the ingest hung after a chunk failed')), 30_000).unref(),
        ),
      ]);
      return { lake, seen, failed, injected };
    };
    const { lake, seen, failed, injected } = await untilChunk0GivesItsSession(failingIngest);
    expect(injected).toBe(true);
    expect(String(failed)).toMatch(/ENOENT.*chunk-00002/);
    // Chunk 0 was waiting for a spare session when chunk 2 failed: it never ran its rejects pass.
    expect(seen.map((p) => p.phase)).toContain('chunk 0 routed');
    expect(seen.map((p) => p.phase)).not.toContain('chunk 0 rejects');
    expect(await lake.files('silver')).toEqual([]);
    expect(await lake.files('quarantine')).toEqual([]);

    const retried = await lake.ingest('transactions/t.csv', TEXT);
    const plain = await createTestLake(contracts);
    const expected = await plain.ingest('transactions/t.csv', TEXT);
    expectSameCounts(retried, expected);
    expect(await lake.silverRows()).toEqual(await plain.silverRows());
    expect(await lake.quarantineRows()).toEqual(await plain.quarantineRows());
  });

  it('an observer that throws changes nothing: the same rows and counts', async () => {
    const watched = await createTestLake(contracts, {
      onPhase: () => {
        throw new Error('an observer that fails');
      },
    });
    const plain = await createTestLake(contracts);
    const [m, expected] = [
      await watched.ingest('transactions/t.csv', TEXT),
      await plain.ingest('transactions/t.csv', TEXT),
    ];
    expectSameCounts(m, expected);
    expect(await watched.silverRows()).toEqual(await plain.silverRows());
  });

  it('one session: a chunk’s silver footers are rewritten once its DuckDB work is done, not beside its rejects pass and quarantine', async () => {
    const { seen, manifest, named } = await phasesOf({
      chunking: { chunkBytes: 100_000, minBytesToChunk: 0 },
      threads: 1,
    });
    const chunks = manifest.engine.chunks ?? 0;
    expect(chunks).toBeGreaterThan(5);
    const quarantined = seen.filter((p) => /^chunk \d+ quarantine$/.test(p.phase)).map((p) => p.phase);
    expect(quarantined).toEqual(['chunk 0 quarantine', 'chunk 3 quarantine']);
    for (let i = 0; i < chunks; i++) {
      const footers = named(`chunk ${i} silver footers`);
      const quarantine = seen.find((p) => p.phase === `chunk ${i} quarantine`);
      // After its quarantine (chunks 0 and 3); a chunk with nothing to quarantine, at once after its routed pass.
      if (quarantine) expect(footers.startMs).toBeGreaterThanOrEqual(quarantine.endMs);
      else {
        expect(footers.startMs).toBeGreaterThanOrEqual(named(`chunk ${i} routed`).endMs);
        expect(footers.startMs).toBeLessThanOrEqual(named(`chunk ${i} rejects`).startMs);
      }
    }
  });

  it('one pass: its routed pass, rejects, quarantine and silver footers, no chunk and no merge', async () => {
    const { seen, named } = await phasesOf({});
    named('one pass routed');
    named('one pass rejects');
    named('one pass quarantine');
    named('one pass silver footers');
    expect(seen.filter((p) => p.phase.startsWith('chunk ') || p.phase === 'quarantine merge')).toEqual([]);
  });
});
