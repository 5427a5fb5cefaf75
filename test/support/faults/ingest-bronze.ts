/**
 * Ingests one object of a local lake's bronze the way the ingest Lambda does on S3: the engine with the
 * local adapters, one process per delivery, no gold refresh and no bronze copy (the object is already there).
 * Usage: node ingest-bronze.mjs <lake dir> <bronze key>. Prints the manifest's counts as JSON; on failure
 * the error on stderr and exit 1. The source identity is the local lake's (bucket, key, MD5 of the bytes,
 * mtime), so a redelivery of the same object is the same source. Scratch goes to os.tmpdir() (TMPDIR).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { LocalCatalog } from '../../../adapters/local/local-catalog.ts';
import { LocalObjectStore } from '../../../adapters/local/local-store.ts';
import { ingestObject, loadContracts } from '../../../engine/index.ts';

async function md5(path: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}

function chunking(): { chunking?: { chunkBytes: number; minBytesToChunk: number } } {
  const chunkBytes = Number(process.env.CHUNK_BYTES ?? 0);
  return chunkBytes > 0 ? { chunking: { chunkBytes, minBytesToChunk: 2 * chunkBytes } } : {};
}

async function main(lakeDir: string, key: string): Promise<void> {
  const store = new LocalObjectStore(lakeDir);
  const path = store.path('bronze', key);
  const s = await stat(path);
  const manifest = await ingestObject(
    { bucket: 'bronze', key, etag: await md5(path), lastModified: s.mtime, size: s.size },
    createReadStream(path),
    // INGEST_THREADS: chunks transformed at once, as the ingest function reads it from its environment;
    // CHUNK_BYTES (tests only): smaller chunks than the engine's 32 MiB, so a small input is chunked too.
    {
      contracts: loadContracts(),
      store,
      catalog: new LocalCatalog(lakeDir),
      threads: Number(process.env.INGEST_THREADS ?? 1),
      ...chunking(),
    },
  );
  const { source_id, status, rows_in, rows_valid, rows_quarantined, engine } = manifest;
  process.stdout.write(
    `${JSON.stringify({ source_id, status, rows_in, rows_valid, rows_quarantined, chunks: engine.chunks })}\n`,
  );
}

const [lakeDir, key] = process.argv.slice(2);
if (!lakeDir || !key) {
  process.stderr.write('usage: ingest-bronze.mjs <lake dir> <bronze key>\n');
  process.exitCode = 2;
} else {
  await main(lakeDir, key).catch((e: unknown) => {
    process.stderr.write(`ingest failed: ${(e as Error).stack ?? String(e)}\n`);
    process.exitCode = 1;
  });
}
