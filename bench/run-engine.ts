/** One engine run in a fresh process: bronze file on local disk → silver + quarantine + manifest in a local lake. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { LocalCatalog } from '../adapters/local/local-catalog.ts';
import { LocalObjectStore } from '../adapters/local/local-store.ts';
import { ingestObject, loadContracts } from '../engine/index.ts';
import { directoryBytes, type RunResult } from './run-result.ts';

const [input, lakeDir, flag, value] = process.argv.slice(2);
if (!input || !lakeDir) throw new Error('usage: run-engine.ts <input.csv> <lake dir> [--threads N]');
const threads = flag === '--threads' ? Number(value) : 1;
const store = new LocalObjectStore(lakeDir);
const start = performance.now();
const manifest = await ingestObject(
  {
    bucket: 'bench',
    key: 'transactions/bench.csv',
    etag: 'bench',
    lastModified: new Date('2024-06-01T00:00:00Z'),
    size: (await stat(input)).size, // as the CLI and the ingest function declare it
  },
  createReadStream(input, { highWaterMark: 1 << 20 }),
  { contracts: loadContracts(), store, catalog: new LocalCatalog(lakeDir), workDir: lakeDir, threads },
);
const seconds = (performance.now() - start) / 1000;
const result: RunResult = {
  seconds,
  bytesIn: (await stat(input)).size,
  peakRssMb: process.resourceUsage().maxRSS / 1024,
  silverBytes: await directoryBytes(`${lakeDir}/silver/transactions`),
  rowsIn: manifest.rows_in,
  rowsValid: manifest.rows_valid,
  rowsQuarantined: manifest.rows_quarantined,
  chunks: manifest.engine.chunks,
};
process.stdout.write(JSON.stringify(result));
