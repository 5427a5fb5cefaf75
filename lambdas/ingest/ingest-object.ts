/** One announced object → opened through the store (streamed) → engine → manifest. */
import { readdirSync, rmSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog, ContractRegistry, Manifest, ObjectStore, SourceRef } from '../../engine/contract/index.ts';
import { DEFAULT_EXPANSION_LIMITS, type EventPublisher, type IngestOptions } from '../../engine/index.ts';
import type { IngestConfig } from './config.ts';
import type { ObjectCreatedEvent } from './events.ts';

export type IngestFn = (source: SourceRef, body: AsyncIterable<Uint8Array>, options: IngestOptions) => Promise<Manifest>;

export interface IngestDependencies {
  config: IngestConfig;
  /** Reads bronze (the announced objects), writes silver and quarantine. */
  store: ObjectStore;
  catalog: Catalog;
  contracts: ContractRegistry;
  ingest: IngestFn;
  /** The salt of PII `hash` columns (fetched once, on first use). */
  piiSalt: () => Promise<string>;
  /** Where each ingest's event goes. @default none */
  events?: EventPublisher;
}

export type ObjectOutcome =
  | { status: 'ingested'; manifest: Manifest; source: SourceRef }
  | { status: 'skipped'; reason: 'other-bucket' | 'folder-marker' | 'object-gone'; detail: string };

/** Each object's scratch directory under the work directory (Lambda: /tmp). */
const SCRATCH_PREFIX = 'ingest-';

/**
 * Removes scratch directories an earlier runtime of this execution environment left in `workDir` — /tmp
 * outlives a runtime killed by a timeout or out of memory, and its leftovers would fill it until every ingest
 * fails. A new runtime runs one invocation at a time, so at its start every such directory is abandoned.
 */
export function sweepAbandonedScratch(workDir: string): string[] {
  let entries: string[];
  try {
    entries = readdirSync(workDir);
  } catch {
    return [];
  }
  const abandoned = entries.filter((name) => name.startsWith(SCRATCH_PREFIX));
  for (const name of abandoned) rmSync(join(workDir, name), { recursive: true, force: true });
  return abandoned;
}

/**
 * Ingests the object an event announced. Reads the exact version when the event names one, otherwise the
 * current object; the identity recorded (version id, ETag, LastModified) is what S3 returned, so a
 * redelivered or late event for the same content maps to the same silver files.
 */
export async function ingestAnnouncedObject(
  event: ObjectCreatedEvent,
  deps: IngestDependencies,
  /** Called once the object's identity is known, before the engine runs (e.g. to add it to log lines). */
  onSource: (source: SourceRef) => void = () => {},
): Promise<ObjectOutcome> {
  const { config } = deps;
  if (event.bucket !== config.bronzeBucket) {
    return { status: 'skipped', reason: 'other-bucket', detail: `event for bucket ${event.bucket}, this function ingests ${config.bronzeBucket}` };
  }
  if (event.key.endsWith('/')) return { status: 'skipped', reason: 'folder-marker', detail: event.key };

  const opened = await deps.store.open('bronze', event.key, { versionId: event.versionId });
  if (!opened) {
    return { status: 'skipped', reason: 'object-gone', detail: `s3://${event.bucket}/${event.key}${event.versionId ? ` version ${event.versionId}` : ''} no longer exists` };
  }
  const { body } = opened;
  const source: SourceRef = {
    bucket: event.bucket,
    key: event.key,
    versionId: opened.versionId,
    etag: opened.etag,
    lastModified: opened.lastModified,
    size: opened.size,
  };

  onSource(source);
  const workDir = await mkdtemp(join(config.workDir, SCRATCH_PREFIX));
  try {
    const manifest = await deps.ingest(source, body, {
      contracts: deps.contracts,
      store: deps.store,
      catalog: deps.catalog,
      workDir,
      piiSalt: await deps.piiSalt(),
      ...(deps.events ? { events: deps.events } : {}),
      ...(config.duckdbMemoryLimit ? { memoryLimit: config.duckdbMemoryLimit } : {}),
      ...(config.threads ? { threads: config.threads } : {}),
      ...(config.maxUncompressedBytes ? { expansionLimits: { ...DEFAULT_EXPANSION_LIMITS, maxBytes: config.maxUncompressedBytes } } : {}),
    });
    return { status: 'ingested', manifest, source };
  } finally {
    body.destroy(); // release the connection if the engine stopped reading early
    await rm(workDir, { recursive: true, force: true });
  }
}
