/** One engine run in a fresh process: bronze file on local disk → silver + quarantine + manifest in a local lake. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { LocalCatalog } from '../adapters/local/local-catalog.ts';
import { LocalObjectStore } from '../adapters/local/local-store.ts';
import { ingestObject, loadContracts } from '../engine/index.ts';
import { cpuSecondsSince, directoryBytes, type RunResult } from './run-result.ts';

const { positionals, values } = parseArgs({
  allowPositionals: true,
  options: {
    threads: { type: 'string', default: '1' },
    phases: { type: 'boolean', default: false },
    stream: { type: 'boolean', default: false },
  },
});
const [input, lakeDir] = positionals;
if (!input || !lakeDir)
  throw new Error('usage: run-engine.ts <input.csv> <lake dir> [--threads N] [--phases] [--stream]');
const threads = Number(values.threads);
// --phases: the ingest's timeline on stderr (stdout carries the result).
const phases: Array<{ phase: string; startMs: number; endMs: number }> = [];
const store = new LocalObjectStore(lakeDir);
const start = performance.now();
const cpuStart = process.cpuUsage();
const manifest = await ingestObject(
  {
    bucket: 'bench',
    key: 'transactions/bench.csv',
    etag: 'bench',
    lastModified: new Date('2024-06-01T00:00:00Z'),
    size: (await stat(input)).size, // as the CLI and the ingest function declare it
  },
  // As `lake ingest` hands over a bronze file (linked, not streamed); --stream: as the ingest function's S3 body.
  values.stream ? createReadStream(input, { highWaterMark: 1 << 20 }) : { localFile: input },
  {
    contracts: loadContracts(),
    store,
    catalog: new LocalCatalog(lakeDir),
    workDir: lakeDir,
    threads,
    onPhase: values.phases ? (phase, startMs, endMs) => phases.push({ phase, startMs, endMs }) : undefined,
  },
);
const seconds = (performance.now() - start) / 1000;
const cpuSeconds = cpuSecondsSince(cpuStart);
if (values.phases) {
  const at = (ms: number): string => `${Math.round(ms - start)}`.padStart(6);
  process.stderr.write(`engine phases, ${threads} thread(s), ms from the ingest's start:\n`);
  for (const p of phases.sort((a, b) => a.startMs - b.startMs || a.endMs - b.endMs))
    process.stderr.write(
      `${at(p.startMs)} → ${at(p.endMs)}  ${`${Math.round(p.endMs - p.startMs)}`.padStart(5)} ms  ${p.phase}\n`,
    );
  process.stderr.write(
    `${at(start)} → ${at(start + seconds * 1000)}  ${`${Math.round(seconds * 1000)}`.padStart(5)} ms  the ingest\n`,
  );
}
const result: RunResult = {
  seconds,
  cpuSeconds,
  bytesIn: (await stat(input)).size,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  silverBytes: await directoryBytes(`${lakeDir}/silver/transactions`),
  rowsIn: manifest.rows_in,
  rowsValid: manifest.rows_valid,
  rowsQuarantined: manifest.rows_quarantined,
  chunks: manifest.engine.chunks,
};
process.stdout.write(JSON.stringify(result));
