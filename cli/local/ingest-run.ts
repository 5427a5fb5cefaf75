/** Runs the engine on one bronze object of the local lake, as the ingest Lambda does on S3. */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { ingestObject } from '../../engine/ingest.ts';
import type { Manifest } from '../../engine/manifest.ts';
import { md5File } from './hash.ts';
import type { PlannedFile } from './ingest-plan.ts';
import { LOCAL_BRONZE_BUCKET, type LocalLake } from './lake.ts';

export interface IngestObserver {
  /** Bytes of the source read so far (called as they stream in). */
  onBytes?(bytesSoFar: number): void;
  /** The source has been read; the engine is validating and writing. */
  onRead?(): void;
}

async function* observed(path: string, observer: IngestObserver | undefined): AsyncIterable<Uint8Array> {
  let bytes = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1024 * 1024 })) {
    bytes += (chunk as Buffer).length;
    observer?.onBytes?.(bytes);
    yield chunk as Buffer;
  }
  observer?.onRead?.();
}

/**
 * Ingests `key` as it is in bronze. The source identity is (bucket, key, MD5 of the bytes) and its landing
 * time is the file's mtime, so ingesting the same object again rewrites the same outputs with identical rows.
 */
export async function ingestBronzeObject(lake: LocalLake, key: string, md5?: string, observer?: IngestObserver): Promise<Manifest> {
  const path = lake.bronzePath(key);
  const s = await stat(path);
  const etag = md5 ?? (await md5File(path));
  return ingestObject(
    { bucket: LOCAL_BRONZE_BUCKET, key, etag, lastModified: s.mtime, size: s.size },
    observed(path, observer),
    { contracts: lake.contracts, store: lake.store, catalog: lake.catalog },
  );
}

/** The local "upload": copies the file into bronze unless the same bytes are already there, then ingests it. */
export async function ingestPlannedFile(lake: LocalLake, file: PlannedFile, observer?: IngestObserver): Promise<Manifest> {
  if (!file.inBronze) await lake.store.putFile('bronze', file.key, file.path);
  return ingestBronzeObject(lake, file.key, file.md5, observer);
}
