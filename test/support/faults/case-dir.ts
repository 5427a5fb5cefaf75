/** A scratch directory per fault case: lakes, the children's TMPDIR, the expected-rows files. Removed afterwards. */
import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { DATASET, type BronzeInput } from './lake-state.ts';
import { generateInput, type InputSpec } from './input.ts';

/** When every bronze object of the tier "landed": fixed, so silver's `ingested_at` is the same in every lake. */
export const LANDED_AT = new Date('2024-07-01T08:30:00.000Z');

export interface CaseDir {
  dir: string;
  /** TMPDIR of the children: the engine's scratch directories land here. */
  tmpDir: string;
  /** A new, empty lake directory under the case. */
  lake(name: string): Promise<string>;
  /** A new lake whose bronze already holds `object` (as after an upload), so every run sees the same source. */
  lakeWith(name: string, object: BronzeInput): Promise<string>;
  remove(): Promise<void>;
}

export async function caseDir(): Promise<CaseDir> {
  const dir = await mkdtemp(join(tmpdir(), 'lake-faults-'));
  const tmpDir = join(dir, 'tmp');
  await mkdir(tmpDir);
  return {
    dir,
    tmpDir,
    async lake(name) {
      const lakeDir = join(dir, name);
      await mkdir(lakeDir);
      return lakeDir;
    },
    async lakeWith(name, object) {
      const lakeDir = join(dir, name);
      await mkdir(lakeDir);
      await putBronze(lakeDir, object);
      return lakeDir;
    },
    remove: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A generated input under `transactions/<name>`, as a BronzeInput. */
export function bronzeInput(name: string, spec: InputSpec): BronzeInput {
  return { key: `${DATASET}/${name}`, input: generateInput(spec) };
}

/** Puts the object into the lake's bronze as a producer's upload would land it (mtime = LANDED_AT). */
export async function putBronze(lakeDir: string, object: BronzeInput): Promise<string> {
  const path = join(lakeDir, 'bronze', ...object.key.split('/'));
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, object.input.text);
  await utimes(path, LANDED_AT, LANDED_AT);
  return path;
}
