/**
 * Per-test-file wiring: provisions the synthesized lake in moto, loads the bundled handler once (a warm
 * container), and resets the emulator to a freshly provisioned lake before each test.
 */
import { GetPartitionsCommand, type Partition } from '@aws-sdk/client-glue';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueAttributesCommand } from '@aws-sdk/client-sqs';
import { DuckDBInstance } from '@duckdb/node-api';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterAll, beforeAll, beforeEach } from '@jest/globals';
import { inject } from '../provided.ts';
import type { Manifest } from '../../../engine/contract/index.ts';
import { loadStacks, type StackArtifact } from './cloud-assembly.ts';
import {
  drainQueue,
  loadBundledHandler,
  type BundledHandler,
  type InvocationRecord,
  type PollOptions,
} from './lambda-runtime.ts';
import { resetMoto } from './moto-server.ts';
import { clientsFor, provisionLake, type LakeUnderTest } from './provision.ts';

export const skipReason = inject('integrationSkipReason');

export interface LakeFixture {
  lake: LakeUnderTest;
  clients: ReturnType<typeof clientsFor>;
  handler: BundledHandler;
  /** The function's /tmp. */
  workDir: string;
  /** A scratch directory for the test itself. */
  scratchDir: string;
  stacks: StackArtifact[];
  /** Lines the function wrote to stdout (JSON logs, EMF) during the current test. */
  output: string[];
}

export interface FixtureOptions {
  /** Endpoint the *function* talks to (e.g. a fault-injecting proxy in front of moto). */
  functionEndpoint?: (motoEndpoint: string) => Promise<string> | string;
}

/** Registers the hooks; the returned getter is valid inside tests. */
export function useLake(options: FixtureOptions = {}): () => LakeFixture {
  let fixture: LakeFixture | undefined;
  const endpoint = inject('motoEndpoint');
  beforeAll(async () => {
    const stacks = loadStacks(inject('assemblyDir'));
    await resetMoto(endpoint);
    const lake = await provisionLake(endpoint, stacks);
    const workDir = mkdtempSync(join(tmpdir(), 'lake-fn-tmp-'));
    const scratchDir = mkdtempSync(join(tmpdir(), 'lake-it-'));
    const functionEndpoint = options.functionEndpoint ? await options.functionEndpoint(endpoint) : endpoint;
    const logLevel = process.env.MEDALLION_IT_LOG_LEVEL;
    const raw = await loadBundledHandler(
      { ...lake, endpoint: functionEndpoint },
      workDir,
      logLevel ? { LOG_LEVEL: logLevel } : {},
    );
    fixture = {
      lake,
      clients: clientsFor(endpoint, lake.region, lake.accountId),
      handler: raw,
      workDir,
      scratchDir,
      stacks,
      output: [],
    };
    const fx = fixture;
    // Keep the function's stdout (logs, EMF) for assertions instead of flooding the test report.
    fixture.handler = (event, context) => captureStdout(fx.output, () => raw(event, context));
  });
  beforeEach(async () => {
    if (!fixture) return;
    await resetMoto(endpoint);
    fixture.lake = await provisionLake(endpoint, fixture.stacks);
    fixture.output = [];
  });
  afterAll(() => {
    if (!fixture) return;
    rmSync(fixture.workDir, { recursive: true, force: true });
    rmSync(fixture.scratchDir, { recursive: true, force: true });
  });
  return () => {
    if (!fixture) throw new Error('lake fixture not ready');
    return fixture;
  };
}

/** Runs `work`, appending whatever it writes to stdout and stderr (one entry per line) to `into` instead of printing it. */
export async function captureStdout<T>(into: string[], work: () => Promise<T>): Promise<T> {
  const streams = [process.stdout, process.stderr];
  const originals = streams.map((stream) => stream.write.bind(stream));
  for (const stream of streams) {
    stream.write = ((chunk: string | Uint8Array, ...rest: unknown[]) => {
      into.push(
        ...String(chunk)
          .split('\n')
          .filter((l) => l.trim() !== ''),
      );
      (rest.find((r) => typeof r === 'function') as (() => void) | undefined)?.();
      return true;
    }) as typeof stream.write;
  }
  try {
    return await work();
  } finally {
    streams.forEach((stream, i) => (stream.write = originals[i]!));
    if (process.env.MEDALLION_IT_LOG_LEVEL) for (const line of into) originals[0]!(`${line}\n`);
  }
}

/** JSON documents among the function's output lines (Powertools logs and EMF). */
export function jsonLines(output: readonly string[]): Record<string, unknown>[] {
  return output.flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as unknown;
      return typeof parsed === 'object' && parsed !== null ? [parsed as Record<string, unknown>] : [];
    } catch {
      return [];
    }
  });
}

/** EMF documents: one per ingested object. */
export function emfDocuments(output: readonly string[]): Record<string, unknown>[] {
  return jsonLines(output).filter((d) => '_aws' in d);
}

/** Uploads to bronze; returns the version id S3 assigned (bronze is versioned). */
export async function putBronze(fx: LakeFixture, key: string, body: string | Uint8Array): Promise<string | undefined> {
  const response = await fx.clients.s3.send(
    new PutObjectCommand({ Bucket: fx.lake.buckets.bronze, Key: key, Body: body }),
  );
  return response.VersionId;
}

export function drain(fx: LakeFixture, options?: PollOptions): Promise<InvocationRecord[]> {
  return drainQueue(fx.lake, fx.clients.sqs, fx.handler, options);
}

export async function listKeys(fx: LakeFixture, bucket: string, prefix = ''): Promise<string[]> {
  const keys: string[] = [];
  let token: string | undefined;
  do {
    const page = await fx.clients.s3.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }),
    );
    keys.push(...(page.Contents ?? []).map((o) => o.Key!));
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return keys.sort();
}

export async function getText(fx: LakeFixture, bucket: string, key: string): Promise<string> {
  const response = await fx.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return response.Body!.transformToString();
}

export async function getManifests(fx: LakeFixture, dataset: string): Promise<Manifest[]> {
  const keys = await listKeys(fx, fx.lake.buckets.silver, `_manifests/${dataset}/`);
  return Promise.all(keys.map(async (k) => JSON.parse(await getText(fx, fx.lake.buckets.silver, k)) as Manifest));
}

/** Downloads every object under `prefix` of `bucket` into a fresh local directory (same relative paths). */
/** Copies a bucket's objects under `prefix` into `dir` (a fresh scratch directory by default), keys as paths. */
export async function downloadPrefix(
  fx: LakeFixture,
  bucket: string,
  prefix: string,
  dir = mkdtempSync(join(fx.scratchDir, 'download-')),
): Promise<string> {
  for (const key of await listKeys(fx, bucket, prefix)) {
    const response = await fx.clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const target = join(dir, ...key.split('/'));
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, await response.Body!.transformToByteArray());
  }
  return dir;
}

/** Runs SQL in a fresh in-memory DuckDB; values come back as JSON-friendly JS (decimals and timestamps as strings). */
export async function duckdb(sql: string): Promise<Record<string, unknown>[]> {
  const instance = await DuckDBInstance.create(':memory:');
  const connection = await instance.connect();
  try {
    await connection.run(`SET TimeZone = 'UTC'`);
    return (await connection.runAndReadAll(sql)).getRowObjectsJson() as Record<string, unknown>[];
  } finally {
    connection.closeSync();
    instance.closeSync();
  }
}

/** Silver rows of a dataset as Athena would see them: every Parquet file under the table prefix, Hive partitions as columns. */
export async function silverRows(
  fx: LakeFixture,
  dataset: string,
  orderBy = 'transaction_id',
): Promise<Record<string, unknown>[]> {
  const dir = await downloadPrefix(fx, fx.lake.buckets.silver, `${dataset}/`);
  const files = await listKeys(fx, fx.lake.buckets.silver, `${dataset}/`);
  if (files.length === 0) return [];
  return duckdb(
    `SELECT * FROM read_parquet('${join(dir, dataset).replaceAll("'", "''")}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false) ORDER BY ${orderBy}`,
  );
}

export async function quarantineRows(fx: LakeFixture, dataset: string): Promise<Record<string, unknown>[]> {
  const prefix = `${dataset}/records/`;
  const files = await listKeys(fx, fx.lake.buckets.quarantine, prefix);
  if (files.length === 0) return [];
  const dir = await downloadPrefix(fx, fx.lake.buckets.quarantine, prefix);
  return duckdb(
    `SELECT * FROM read_parquet('${join(dir, ...prefix.split('/')).replaceAll("'", "''")}/*.parquet') ORDER BY source_key, record_number`,
  );
}

export async function gluePartitions(fx: LakeFixture, dataset: string): Promise<Partition[]> {
  const response = await fx.clients.glue.send(
    new GetPartitionsCommand({ DatabaseName: fx.lake.glue.silverDatabase, TableName: dataset }),
  );
  return (response.Partitions ?? []).sort((a, b) =>
    (a.Values ?? []).join('/').localeCompare((b.Values ?? []).join('/')),
  );
}

export async function queueDepth(fx: LakeFixture, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes } = await fx.clients.sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(Attributes?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(Attributes?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}
