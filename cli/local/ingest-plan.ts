/**
 * What `lake ingest` and `lake watch` will do, decided before anything is written: each input file's dataset
 * and bronze key, its content hash, whether bronze already holds those bytes, and whether the lake has
 * ingested them — which means a manifest exists for them, not merely that bronze holds them (a copy into
 * bronze whose ingest never finished must still be ingested). Every mistake is found here, so a bad argument
 * never leaves a half-ingested batch behind.
 */
import { stat } from 'node:fs/promises';
import { resolve, sep, relative } from 'node:path';
import type { ContractRegistry, DatasetContract } from '../../engine/contract/index.ts';
import { UserError } from '../errors.ts';
import { formatBytes, formatTime } from '../ui/format.ts';
import { md5File } from './hash.ts';
import { findInputFiles, type Found, type Skipped } from './input-files.ts';
import type { LocalLake } from './lake.ts';

export { findInputFiles, isIgnoredName, type Found } from './input-files.ts';

export interface PlannedFile {
  /** The input file. */
  path: string;
  dataset: string;
  /** Where it goes in bronze. */
  key: string;
  size: number;
  md5: string;
  /** Bronze already holds these exact bytes under `key`: nothing to copy. */
  inBronze: boolean;
  /** A manifest exists for these bytes under `key`: the lake has ingested them. */
  ingested: boolean;
}

export interface PlanOptions {
  /** `--dataset`: put the files under this dataset's bronze prefix. */
  dataset?: string;
  onHashBytes?: (n: number) => void;
}

export interface LocalIngestPlan {
  files: PlannedFile[];
  skipped: Skipped[];
}

/**
 * Bronze holds other bytes under the key a file would take. Raw input is immutable, so the file is not
 * ingested; the message says what is there and what arrived (a longer file is often the complete version
 * of one taken too early).
 */
export class BronzeConflictError extends UserError {
  constructor(
    readonly path: string,
    readonly key: string,
    readonly bronze: { size: number; landed: Date },
    readonly size: number,
  ) {
    super(
      `bronze already holds a different ${key} (landed ${formatTime(bronze.landed)}, ${formatBytes(bronze.size)}; this file is ${formatBytes(size)}): ${path} was NOT ingested`,
      'raw input is immutable: give the new file another name to ingest it as a new source (gold keeps the latest version of each transaction), or run `lake replay` to re-process the one bronze holds',
    );
  }
}

function datasetFromAncestors(
  path: string,
  contracts: readonly DatasetContract[],
): { contract: DatasetContract; rest: string } | undefined {
  const parts = path.split(sep);
  for (let i = parts.length - 2; i >= 0; i--) {
    const contract = contracts.find((c) => c.name === parts[i]);
    if (contract) return { contract, rest: parts.slice(i + 1).join('/') };
  }
  return undefined;
}

/**
 * The dataset and bronze key of an input file: `--dataset`, else a layout that mirrors bronze
 * (`transactions/…`), else a folder named after a dataset, else the only dataset there is.
 */
export function bronzeKeyFor(
  file: Found,
  registry: ContractRegistry,
  forced: DatasetContract | undefined,
  bronzeDir?: string,
): { dataset: string; key: string } {
  const contracts = registry.contracts;
  if (bronzeDir && file.path.startsWith(bronzeDir + sep)) {
    // Already in this lake's bronze: ingest it where it is.
    const key = relative(bronzeDir, file.path).split(sep).join('/');
    const contract = registry.forKey(key);
    if (!contract)
      throw new UserError(
        `bronze object ${key} is not under any dataset's prefix`,
        `known prefixes: ${contracts.map((c) => c.bronzePrefix).join(', ')}`,
      );
    return { dataset: contract.name, key };
  }
  if (forced) {
    const rest = file.relative.startsWith(forced.bronzePrefix)
      ? file.relative.slice(forced.bronzePrefix.length)
      : file.relative;
    return { dataset: forced.name, key: `${forced.bronzePrefix}${rest}` };
  }
  const byLayout = registry.forKey(file.relative);
  if (byLayout) return { dataset: byLayout.name, key: file.relative };
  const byFolder = datasetFromAncestors(file.path, contracts);
  if (byFolder) return { dataset: byFolder.contract.name, key: `${byFolder.contract.bronzePrefix}${byFolder.rest}` };
  const only = contracts.length === 1 ? contracts[0] : undefined;
  if (only) return { dataset: only.name, key: `${only.bronzePrefix}${file.relative}` };
  throw new UserError(
    `cannot tell which dataset ${file.relative} belongs to`,
    `pass --dataset NAME (one of: ${registry.names().join(', ')})`,
  );
}

export async function planLocalIngest(
  lake: LocalLake,
  args: readonly string[],
  options: PlanOptions = {},
): Promise<LocalIngestPlan> {
  const forced = options.dataset ? lake.contracts.get(lake.dataset(options.dataset)) : undefined;
  const { files, skipped } = await findInputFiles(args);
  return { files: await planFiles(lake, files, forced, options), skipped };
}

/** Whether bronze holds exactly the bytes of `md5` under `key`; throws BronzeConflictError when it holds others. */
async function bronzeHolds(lake: LocalLake, file: Found, key: string, size: number, md5: string): Promise<boolean> {
  const bronzePath = lake.bronzePath(key);
  const there = await stat(bronzePath).catch((e: NodeJS.ErrnoException) => {
    if (e.code === 'ENOENT') return undefined;
    throw e;
  });
  if (!there) return false;
  if (resolve(bronzePath) === file.path) return true;
  if (there.size === size && (await md5File(bronzePath)) === md5) return true;
  throw new BronzeConflictError(file.path, key, { size: there.size, landed: there.mtime }, size);
}

/** Plans files already found (`watch` finds its own). */
export async function planFiles(
  lake: LocalLake,
  files: readonly Found[],
  forced: DatasetContract | undefined,
  options: PlanOptions = {},
): Promise<PlannedFile[]> {
  const planned = new Map<string, PlannedFile>();
  for (const file of files) {
    const { dataset, key } = bronzeKeyFor(file, lake.contracts, forced, lake.zonePath('bronze'));
    const size = (await stat(file.path)).size;
    const md5 = await md5File(file.path, options.onHashBytes);
    const twin = planned.get(key);
    if (twin) {
      if (twin.md5 === md5) continue; // the same bytes named twice
      throw new UserError(
        `${file.path} and ${twin.path} would both land in bronze as ${key}`,
        'rename one of them; bronze keeps one object per key',
      );
    }
    const inBronze = await bronzeHolds(lake, file, key, size, md5);
    const ingested = inBronze && (await lake.hasManifest(key, md5));
    planned.set(key, { path: file.path, dataset, key, size, md5, inBronze, ingested });
  }
  return [...planned.values()];
}
