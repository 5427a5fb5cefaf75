import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalCatalog } from '../../adapters/local/local-catalog.ts';
import { LocalObjectStore } from '../../adapters/local/local-store.ts';
import {
  ingestObject,
  loadContracts,
  type ContractRegistry,
  type IngestBody,
  type IngestOptions,
  type Manifest,
  type SourceRef,
} from '../../engine/index.ts';
import { readWithDuckDb } from './duckdb-reader.ts';

export interface TestLake {
  root: string;
  store: LocalObjectStore;
  catalog: LocalCatalog;
  /** Puts `content` in bronze and ingests it, its body as `body` gives it (default: the content in small pieces). */
  ingest(key: string, content: string | Uint8Array, source?: Partial<SourceRef>, body?: IngestBody): Promise<Manifest>;
  /** The silver files of `dataset` as a DuckDB relation (`read_parquet`, partition values from the paths, as text). */
  silverRelation(dataset?: string): string;
  silverRows(dataset?: string, orderBy?: string): Promise<Record<string, unknown>[]>;
  quarantineRows(dataset?: string): Promise<Record<string, unknown>[]>;
  files(zone: 'silver' | 'quarantine', prefix?: string): Promise<string[]>;
}

async function* chunked(content: Uint8Array, size = 7): AsyncIterable<Uint8Array> {
  // Small, odd-sized chunks: the engine must not depend on how the body is split.
  for (let i = 0; i < content.length; i += size) yield content.subarray(i, i + size);
}

export async function createTestLake(
  contracts: ContractRegistry = loadContracts(),
  engine: Pick<
    IngestOptions,
    | 'rejectsLimits'
    | 'maxRecordBytes'
    | 'expansionLimits'
    | 'memoryLimit'
    | 'threads'
    | 'chunking'
    | 'onPhase'
    | 'shedAboveBytes'
  > = {},
): Promise<TestLake> {
  const root = await mkdtemp(join(tmpdir(), 'lake-test-'));
  const store = new LocalObjectStore(root);
  const catalog = new LocalCatalog(root);
  const lake: TestLake = {
    root,
    store,
    catalog,
    async ingest(key, content, source = {}, body) {
      const bytes = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
      await store.putBytes('bronze', key, bytes);
      return ingestObject(
        { bucket: 'test-bronze', key, etag: 'etag-1', lastModified: new Date('2024-05-01T12:00:00Z'), ...source },
        body ?? chunked(bytes, bytes.length > 4096 ? 65536 : 7),
        { contracts, store, catalog, workDir: root, ...engine },
      );
    },
    silverRelation(dataset = 'transactions') {
      return `read_parquet('${root}/silver/${dataset}/**/*.parquet', hive_partitioning = true, hive_types_autocast = false)`;
    },
    async silverRows(dataset = 'transactions', orderBy = 'transaction_id') {
      const files = await lake.files('silver', `${dataset}/`);
      if (files.length === 0) return [];
      return readWithDuckDb(`SELECT * FROM ${lake.silverRelation(dataset)} ORDER BY ${orderBy}`);
    },
    async quarantineRows(dataset = 'transactions') {
      const files = await lake.files('quarantine', `${dataset}/records/`);
      if (files.length === 0) return [];
      return readWithDuckDb(
        `SELECT * REPLACE (CAST(record_number AS INTEGER) AS record_number) FROM read_parquet('${root}/quarantine/${dataset}/records/*.parquet') ORDER BY source_key, record_number`,
      );
    },
    async files(zone, prefix = '') {
      const keys: string[] = [];
      for await (const o of store.list(zone, prefix)) keys.push(o.key);
      return keys;
    },
  };
  return lake;
}

export const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';
export const csv = (...lines: string[]): string => [HEADER, ...lines].join('\n') + '\n';
