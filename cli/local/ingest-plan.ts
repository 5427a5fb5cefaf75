/**
 * What `lake ingest` will do, decided before anything is written: each input file's dataset and bronze key,
 * its content hash, and whether bronze already holds it. Every mistake is found here, so a bad argument
 * never leaves a half-ingested batch behind.
 */
import { existsSync } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { basename, join, relative, resolve, sep } from 'node:path';
import type { ContractRegistry } from '../../engine/contract/load.ts';
import type { DatasetContract } from '../../engine/contract/types.ts';
import { UserError } from '../errors.ts';
import { formatTime } from '../ui/format.ts';
import { md5File } from './hash.ts';
import type { LocalLake } from './lake.ts';

export interface PlannedFile {
  /** The input file. */
  path: string;
  dataset: string;
  /** Where it goes in bronze. */
  key: string;
  size: number;
  md5: string;
  /** Bronze already holds these exact bytes under `key` (a re-ingest). */
  inBronze: boolean;
}

export interface PlanOptions {
  /** `--dataset`: put the files under this dataset's bronze prefix. */
  dataset?: string;
  onHashBytes?: (n: number) => void;
}

/** Editors, downloads and copies in progress leave these; they are never data. */
export function isIgnoredName(name: string): boolean {
  return name.startsWith('.') || name.startsWith('~') || /\.(tmp|part|partial|crdownload|swp)$/i.test(name);
}

export interface Found {
  path: string;
  /** Path relative to the directory argument, `/`-separated; the base name for a file argument. */
  relative: string;
}

async function walk(dir: string, root: string, out: Found[]): Promise<void> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (isIgnoredName(entry.name)) continue;
    const full = join(dir, entry.name);
    if (entry.isDirectory()) await walk(full, root, out);
    else if (entry.isFile()) out.push({ path: full, relative: relative(root, full).split(sep).join('/') });
  }
}

export async function findInputFiles(args: readonly string[]): Promise<Found[]> {
  const found: Found[] = [];
  for (const arg of args) {
    const path = resolve(arg);
    if (!existsSync(path)) throw new UserError(`no such file or directory: ${arg}`);
    const s = await stat(path);
    if (s.isDirectory()) {
      const before = found.length;
      await walk(path, path, found);
      if (found.length === before) throw new UserError(`${arg} holds no files to ingest`);
    } else if (s.isFile()) {
      found.push({ path, relative: basename(path) });
    } else {
      throw new UserError(`${arg} is neither a file nor a directory`);
    }
  }
  return found;
}

function datasetFromAncestors(path: string, contracts: readonly DatasetContract[]): { contract: DatasetContract; rest: string } | undefined {
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
    if (!contract) throw new UserError(`bronze object ${key} is not under any dataset's prefix`, `known prefixes: ${contracts.map((c) => c.bronzePrefix).join(', ')}`);
    return { dataset: contract.name, key };
  }
  if (forced) {
    const rest = file.relative.startsWith(forced.bronzePrefix) ? file.relative.slice(forced.bronzePrefix.length) : file.relative;
    return { dataset: forced.name, key: `${forced.bronzePrefix}${rest}` };
  }
  const byLayout = registry.forKey(file.relative);
  if (byLayout) return { dataset: byLayout.name, key: file.relative };
  const byFolder = datasetFromAncestors(file.path, contracts);
  if (byFolder) return { dataset: byFolder.contract.name, key: `${byFolder.contract.bronzePrefix}${byFolder.rest}` };
  const only = contracts.length === 1 ? contracts[0] : undefined;
  if (only) return { dataset: only.name, key: `${only.bronzePrefix}${file.relative}` };
  throw new UserError(`cannot tell which dataset ${file.relative} belongs to`, `pass --dataset NAME (one of: ${registry.names().join(', ')})`);
}

export async function planLocalIngest(lake: LocalLake, args: readonly string[], options: PlanOptions = {}): Promise<PlannedFile[]> {
  const forced = options.dataset ? lake.contracts.get(lake.dataset(options.dataset)) : undefined;
  return planFiles(lake, await findInputFiles(args), forced, options);
}

/** Plans files already found (`watch` finds its own). */
export async function planFiles(lake: LocalLake, files: readonly Found[], forced: DatasetContract | undefined, options: PlanOptions = {}): Promise<PlannedFile[]> {
  const planned = new Map<string, PlannedFile>();
  for (const file of files) {
    const { dataset, key } = bronzeKeyFor(file, lake.contracts, forced, lake.zonePath('bronze'));
    const size = (await stat(file.path)).size;
    const md5 = await md5File(file.path, options.onHashBytes);
    const twin = planned.get(key);
    if (twin) {
      if (twin.md5 === md5) continue; // the same bytes named twice
      throw new UserError(`${file.path} and ${twin.path} would both land in bronze as ${key}`, 'rename one of them; bronze keeps one object per key');
    }
    const bronzePath = lake.bronzePath(key);
    let inBronze = false;
    if (existsSync(bronzePath)) {
      if (resolve(bronzePath) === file.path || (await md5File(bronzePath)) === md5) inBronze = true;
      else {
        const landed = (await stat(bronzePath)).mtime;
        throw new UserError(
          `bronze already holds a different ${key} (landed ${formatTime(landed)})`,
          'raw input is immutable: give the new file another name to ingest it as a new source, or run `lake replay` to re-process the existing one',
        );
      }
    }
    planned.set(key, { path: file.path, dataset, key, size, md5, inBronze });
  }
  return [...planned.values()];
}
