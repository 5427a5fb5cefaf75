/** One announced object → opened through the store (streamed) → engine → manifest. */
import { readdirSync, rmSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import type { Catalog, ContractRegistry, Manifest, ObjectStore, SourceRef } from '../../engine/contract/index.ts';
import { DEFAULT_EXPANSION_LIMITS, type EventPublisher, type IngestOptions } from '../../engine/index.ts';
import type { IngestConfig } from './config.ts';
import type { ObjectCreatedEvent } from './events.ts';
import type { FanOutStart } from '../fan-out/start.ts';
import { expectedTextBytes, peekHead } from './routing.ts';

export type IngestFn = (
  source: SourceRef,
  body: AsyncIterable<Uint8Array>,
  options: IngestOptions,
) => Promise<Manifest>;

export interface IngestDependencies {
  config: IngestConfig;
  /** Reads bronze (the announced objects), writes silver and quarantine. */
  store: ObjectStore;
  catalog: Catalog;
  contracts: ContractRegistry;
  ingest: IngestFn;
  /** The salt of PII `hash` columns (fetched once, on first use). */
  piiSalt: () => Promise<string>;
  /** Starts the fan-out of an object too large for one invocation; unset when no state machine is configured. */
  startFanOut?: (source: SourceRef) => Promise<FanOutStart>;
  /** Where each ingest's event goes. @default none */
  events?: EventPublisher;
}

export type ObjectOutcome =
  | { status: 'ingested'; manifest: Manifest; source: SourceRef }
  | { status: 'fanned-out'; source: SourceRef; start: FanOutStart }
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
    return {
      status: 'skipped',
      reason: 'other-bucket',
      detail: `event for bucket ${event.bucket}, this function ingests ${config.bronzeBucket}`,
    };
  }
  if (event.key.endsWith('/')) return { status: 'skipped', reason: 'folder-marker', detail: event.key };
  const opened = await openObject(event, deps);
  if (opened.status === 'skipped') return opened;
  const { source, body } = opened;
  onSource(source);
  try {
    let input: AsyncIterable<Uint8Array> = body;
    if (deps.startFanOut && config.fanOutMinBytes !== undefined) {
      const peeked = await peekHead(body);
      if (expectedTextBytes(source.size ?? 0, peeked.head) > config.fanOutMinBytes) {
        body.destroy(); // the state machine's steps read the object themselves
        return { status: 'fanned-out', source, start: await deps.startFanOut(source) };
      }
      input = peeked.body;
    }
    const manifest = await withScratch(config, async (workDir) =>
      deps.ingest(source, input, await engineOptions(deps, workDir)),
    );
    return { status: 'ingested', manifest, source };
  } finally {
    body.destroy(); // release the connection if the engine stopped reading early
  }
}

/** The object (the exact version asked for, else the current one), opened through the store, with its identity as the store returned it. */
export async function openObject(
  object: { bucket: string; key: string; versionId?: string },
  deps: Pick<IngestDependencies, 'store'>,
): Promise<
  { status: 'opened'; source: SourceRef; body: Readable } | { status: 'skipped'; reason: 'object-gone'; detail: string }
> {
  const opened = await deps.store.open('bronze', object.key, { versionId: object.versionId });
  if (!opened) {
    return {
      status: 'skipped',
      reason: 'object-gone',
      detail: `s3://${object.bucket}/${object.key}${object.versionId ? ` version ${object.versionId}` : ''} no longer exists`,
    };
  }
  const source: SourceRef = {
    bucket: object.bucket,
    key: object.key,
    versionId: opened.versionId,
    etag: opened.etag,
    lastModified: opened.lastModified,
    size: opened.size,
  };
  return { status: 'opened', source, body: opened.body };
}

/** Runs `work` in a scratch directory of its own under the work directory, removed afterwards. */
export async function withScratch<T>(
  config: Pick<IngestConfig, 'workDir'>,
  work: (workDir: string) => Promise<T>,
): Promise<T> {
  const workDir = await mkdtemp(join(config.workDir, SCRATCH_PREFIX));
  try {
    return await work(workDir);
  } finally {
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The engine's options as the function's configuration sets them. */
export async function engineOptions(deps: IngestDependencies, workDir: string): Promise<IngestOptions> {
  const { config } = deps;
  return {
    contracts: deps.contracts,
    store: deps.store,
    catalog: deps.catalog,
    workDir,
    piiSalt: await deps.piiSalt(),
    ...(deps.events ? { events: deps.events } : {}),
    ...(config.duckdbMemoryLimit ? { memoryLimit: config.duckdbMemoryLimit } : {}),
    ...(config.threads ? { threads: config.threads } : {}),
    ...(config.maxUncompressedBytes
      ? { expansionLimits: { ...DEFAULT_EXPANSION_LIMITS, maxBytes: config.maxUncompressedBytes } }
      : {}),
  };
}
