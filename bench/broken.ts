/**
 * Badly broken inputs for `npm run bench -- --broken`: the engine's memory must stay bounded however much of
 * a file is broken (DuckDB holds every reader reject in memory until its scan ends; see docs/engine.md).
 */
import { createWriteStream } from 'node:fs';
import { once } from 'node:events';

export type Breakage = 'malformed' | 'invalid';

export interface BrokenInput {
  /** What the bench prints. */
  label: string;
  breakage: Breakage;
  /** Share of rows broken, 0..1. */
  ratio: number;
}

export const BROKEN_INPUTS: readonly BrokenInput[] = [
  { label: '10% malformed rows (a field missing)', breakage: 'malformed', ratio: 0.1 },
  { label: '50% malformed rows (a field missing)', breakage: 'malformed', ratio: 0.5 },
  { label: '50% invalid amounts', breakage: 'invalid', ratio: 0.5 },
];

/** Writes `rows` transactions; every broken row is evenly spread (row i is broken when i mod 100 < ratio × 100). */
export async function writeBrokenCsv(path: string, rows: number, input: BrokenInput): Promise<void> {
  const out = createWriteStream(path);
  const write = async (text: string): Promise<void> => {
    if (!out.write(text)) await once(out, 'drain');
  };
  await write('transaction_id,account_id,amount,currency,transaction_timestamp\n');
  const brokenPerHundred = Math.round(input.ratio * 100);
  let chunk = '';
  for (let i = 0; i < rows; i++) {
    const broken = i % 100 < brokenPerHundred;
    const id = `T${String(i).padStart(9, '0')}`;
    const account = `ACC${String(i % 5000).padStart(5, '0')}`;
    const timestamp = `2024-0${(i % 9) + 1}-15T10:00:00Z`;
    if (broken && input.breakage === 'malformed') chunk += `${id},${account},12.34,EUR\n`;
    else chunk += `${id},${account},${broken ? 'x' : '12.34'},EUR,${timestamp}\n`;
    if (chunk.length > 1 << 16) {
      await write(chunk);
      chunk = '';
    }
  }
  await write(chunk);
  out.end();
  await once(out, 'finish');
}
