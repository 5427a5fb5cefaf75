/**
 * `npm run bench [-- --rows N] [--runs R] [--scaling] [--broken]`
 *
 * Generates N transactions (~1% invalid of every kind), then in the same run measures, each in a fresh
 * process and alternating: the engine end to end (bytes in → silver Parquet + quarantine + manifest on
 * local disk) and the native reference (DuckDB, one thread, one COPY with the same typing and validation).
 * Prints MB/s, the ratio, peak RSS and output bytes, and checks both produced the same valid rows.
 * `--scaling` also runs the engine at 5× the rows to show that memory does not grow with input size.
 * `--broken` also runs it on files with 10% and 50% malformed rows and 50% invalid ones: memory stays bounded.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DuckDBInstance } from '@duckdb/node-api';
import { ENGINE_PROCESS_ENV } from '../engine/process-env.ts';
import { BROKEN_INPUTS, writeBrokenCsv } from './broken.ts';
import { writeTransactionsCsv } from './generate.ts';
import type { RunResult } from './run-result.ts';

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '2000000' },
    runs: { type: 'string', default: '3' },
    scaling: { type: 'boolean', default: false },
    broken: { type: 'boolean', default: false },
  },
});
const rows = Number(values.rows);
const runs = Number(values.runs);
const root = resolve('.cache/bench');
const here = resolve(import.meta.dirname);

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] ?? NaN;
const mb = (bytes: number): number => bytes / 1e6;

async function input(n: number): Promise<string> {
  const file = join(root, `transactions-${n}.csv`);
  if (!existsSync(file)) {
    await mkdir(root, { recursive: true });
    const t = performance.now();
    const report = await writeTransactionsCsv(file, { rows: n, accounts: 5000, from: '2023-01', to: '2024-12', seed: 7 });
    console.log(`generated ${n.toLocaleString()} rows (${mb(report.bytes).toFixed(0)} MB, ${report.badRows} bad) in ${((performance.now() - t) / 1000).toFixed(1)} s`);
  }
  return file;
}

function run(script: string, file: string, out: string, ...flags: string[]): RunResult {
  const stdout = execFileSync(process.execPath, ['--import', 'tsx', join(here, script), file, out, ...flags], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, ...ENGINE_PROCESS_ENV }, // as the Lambda runs it; the reference gets the same
  });
  return JSON.parse(stdout) as RunResult;
}

async function sameValidRows(engineDir: string, referenceDir: string): Promise<{ engineOnly: number; referenceOnly: number }> {
  const db = await DuckDBInstance.create(':memory:');
  const c = await db.connect();
  const cols = 'transaction_id, account_id, amount, currency, transaction_timestamp, year, month';
  const read = (dir: string) => `(SELECT ${cols} FROM read_parquet('${dir}/**/*.parquet', hive_partitioning = true))`;
  const count = async (a: string, b: string) =>
    Number((await c.runAndReadAll(`SELECT count(*) FROM (${read(a)} EXCEPT ALL ${read(b)})`)).getRows()[0]?.[0] ?? -1);
  const result = { engineOnly: await count(engineDir, referenceDir), referenceOnly: await count(referenceDir, engineDir) };
  c.closeSync();
  db.closeSync();
  return result;
}

async function fresh(dir: string): Promise<string> {
  await rm(dir, { recursive: true, force: true });
  await rm(`${dir}.spill`, { recursive: true, force: true });
  return dir;
}

const file = await input(rows);
const engine: RunResult[] = [];
const reference: RunResult[] = [];
const tuned: RunResult[] = [];
for (let i = 0; i < runs; i++) {
  engine.push(run('run-engine.ts', file, await fresh(join(root, 'engine-lake'))));
  tuned.push(run('run-reference.ts', file, await fresh(join(root, 'reference-out')), '--tuned'));
  reference.push(run('run-reference.ts', file, await fresh(join(root, 'reference-out'))));
  process.stdout.write(
    `run ${i + 1}/${runs}: engine ${engine[i]?.seconds.toFixed(2)} s, reference ${reference[i]?.seconds.toFixed(2)} s, tuned reference ${tuned[i]?.seconds.toFixed(2)} s\n`,
  );
}
const last = { engine: engine[engine.length - 1] as RunResult, reference: reference[reference.length - 1] as RunResult };
const diff = await sameValidRows(join(root, 'engine-lake/silver/transactions'), join(root, 'reference-out'));

const engineMBs = mb(last.engine.bytesIn) / median(engine.map((r) => r.seconds));
const referenceMBs = mb(last.reference.bytesIn) / median(reference.map((r) => r.seconds));
const tunedMBs = mb(last.reference.bytesIn) / median(tuned.map((r) => r.seconds));
const table = [
  ['', 'engine', 'DuckDB reference', 'ratio', 'target'],
  ['throughput (MB/s, median)', engineMBs.toFixed(1), referenceMBs.toFixed(1), (engineMBs / referenceMBs).toFixed(2), '≥ 0.80'],
  ['  vs tuned reference', engineMBs.toFixed(1), tunedMBs.toFixed(1), (engineMBs / tunedMBs).toFixed(2), 'reported'],
  ['peak RSS (MB, max)', Math.max(...engine.map((r) => r.peakRssMb)).toFixed(0), Math.max(...reference.map((r) => r.peakRssMb)).toFixed(0), '', 'engine ≤ 400'],
  ['silver bytes (MB)', mb(last.engine.silverBytes).toFixed(1), mb(last.reference.silverBytes).toFixed(1), (last.engine.silverBytes / last.reference.silverBytes).toFixed(2), '≤ 1.10'],
  ['valid rows', String(last.engine.rowsValid), String(last.reference.rowsValid), '', 'equal'],
  ['quarantined rows', String(last.engine.rowsQuarantined), '–', '', ''],
];
console.log(`\ninput: ${rows.toLocaleString()} rows, ${mb(last.engine.bytesIn).toFixed(0)} MB CSV, ${runs} runs each, 1 thread`);
for (const row of table) console.log(row.map((cell, i) => (i === 0 ? cell.padEnd(27) : cell.padStart(17))).join(''));
console.log(`same valid rows: ${diff.engineOnly === 0 && diff.referenceOnly === 0 ? 'yes' : 'NO'} (engine-only ${diff.engineOnly}, reference-only ${diff.referenceOnly})`);
console.log('the engine also writes lineage columns, quarantine with reasons and record numbers, and a manifest; the reference does not.');
console.log('tuned reference: the same COPY with DuckDB filter pushdown off (WHERE is_valid otherwise evaluates the typing twice).');

if (values.scaling) {
  const big = await input(rows * 5);
  const scaled = run('run-engine.ts', big, await fresh(join(root, 'engine-lake-scaled')));
  console.log(
    `scaling: ${(rows * 5).toLocaleString()} rows → ${(mb(scaled.bytesIn) / scaled.seconds).toFixed(1)} MB/s, peak RSS ${scaled.peakRssMb.toFixed(0)} MB (vs ${Math.max(...engine.map((r) => r.peakRssMb)).toFixed(0)} MB at ${rows.toLocaleString()} rows)`,
  );
  await fresh(join(root, 'engine-lake-scaled'));
}
if (values.broken) {
  for (const brokenInput of BROKEN_INPUTS) {
    const file = join(root, `broken-${brokenInput.breakage}-${Math.round(brokenInput.ratio * 100)}-${rows}.csv`);
    if (!existsSync(file)) await writeBrokenCsv(file, rows, brokenInput);
    const result = run('run-engine.ts', file, await fresh(join(root, 'engine-lake-broken')));
    console.log(
      `broken: ${rows.toLocaleString()} rows, ${brokenInput.label} → ${result.seconds.toFixed(1)} s, peak RSS ${result.peakRssMb.toFixed(0)} MB, ${result.rowsQuarantined.toLocaleString()} quarantined`,
    );
  }
  await fresh(join(root, 'engine-lake-broken'));
}
if (diff.engineOnly !== 0 || diff.referenceOnly !== 0 || last.engine.rowsValid !== last.reference.rowsValid) process.exitCode = 1;
