/** Runs the engine on one bronze object of the local lake, as the ingest Lambda does on S3. */
import { stat } from 'node:fs/promises';
import { SourceChangedError } from '../../adapters/local/local-store.ts';
import { ingestObject } from '../../engine/index.ts';
import { type Manifest, ObjectExistsError } from '../../engine/contract/index.ts';
import { UserError } from '../errors.ts';
import { md5File } from './hash.ts';
import { BronzeConflictError, type PlannedFile } from './ingest-plan.ts';
import { LOCAL_BRONZE_BUCKET, LOCAL_PII_SALT, type LocalLake } from './lake.ts';
import { localLeaseTakeover } from './maintenance-lease.ts';
import { claimWorkDir } from './work-dir.ts';

export interface IngestObserver {
  /** What the ingest does now (copying the file into bronze; validating and writing), for a progress line. */
  onStep?(step: string): void;
  /** Something worth a line on stderr (a dead maintenance command's lease was released). */
  onNote?(text: string): void;
}

/** The input changed after it was planned (hashed): it is still being written. Nothing was put in bronze. */
export class InputChangedError extends UserError {
  constructor(readonly path: string) {
    super(
      `${path} changed while it was being ingested (it is still being written?); nothing was put in bronze`,
      'write files elsewhere (or as NAME.part) and rename them into place when complete; then ingest again',
    );
  }
}

/**
 * Ingests `key` as it is in bronze. The source identity is (bucket, key, MD5 of the bytes) and its landing
 * time is the file's mtime, so ingesting the same object again rewrites the same outputs with identical rows.
 * The engine's scratch files go to a directory of the lake owned by this process (see work-dir.ts).
 */
export async function ingestBronzeObject(
  lake: LocalLake,
  key: string,
  md5?: string,
  observer?: IngestObserver,
): Promise<Manifest> {
  const path = lake.bronzePath(key);
  const s = await stat(path);
  const etag = md5 ?? (await md5File(path));
  const scratch = await claimWorkDir(lake.dir, { command: 'ingest', sourceKey: key });
  try {
    return await ingestObject(
      { bucket: LOCAL_BRONZE_BUCKET, key, etag, lastModified: s.mtime, size: s.size },
      { localFile: path }, // linked into the engine's scratch, not read through this process
      {
        contracts: lake.contracts,
        store: lake.store,
        catalog: lake.catalog,
        events: lake.events,
        workDir: scratch.path,
        threads: lake.threads,
        piiSalt: LOCAL_PII_SALT,
        // The same maintenance lease rule as on AWS; a lease left by a killed local command is taken over.
        leaseTakeover: localLeaseTakeover(lake.dir, observer?.onNote ?? ((t: string) => process.stderr.write(t))),
      },
    );
  } finally {
    await scratch.release();
  }
}

/**
 * The local "upload": copies the file into bronze, create-only — never over an object already there — and
 * checked against the hash it was planned with, so what lands is exactly what was planned.
 */
export async function copyIntoBronze(lake: LocalLake, file: PlannedFile): Promise<void> {
  try {
    await lake.store.putFile('bronze', file.key, file.path, undefined, { ifNoneMatch: true, expectMd5: file.md5 });
  } catch (e) {
    if (e instanceof SourceChangedError) throw new InputChangedError(file.path);
    if (!(e instanceof ObjectExistsError)) throw e;
    // Another ingest put an object under this key since the plan: the same bytes are fine, others are not.
    const there = await stat(lake.bronzePath(file.key));
    if (there.size === file.size && (await md5File(lake.bronzePath(file.key))) === file.md5) return;
    throw new BronzeConflictError(file.path, file.key, { size: there.size, landed: there.mtime }, file.size);
  }
}

/** Copies the file into bronze unless the same bytes are already there, then ingests it. */
export async function ingestPlannedFile(
  lake: LocalLake,
  file: PlannedFile,
  observer?: IngestObserver,
): Promise<Manifest> {
  if (!file.inBronze) {
    observer?.onStep?.('copying into bronze');
    await copyIntoBronze(lake, file);
  }
  observer?.onStep?.('validating, writing Parquet');
  return ingestBronzeObject(lake, file.key, file.md5, observer);
}
