/**
 * The engine's view of the outside world. The engine knows nothing of S3, Glue or Lambda:
 * adapters/local and adapters/aws implement these small interfaces.
 */
import type { Readable } from 'node:stream';

/** The lake's storage zones. On AWS each is a bucket; locally each is a directory. */
export type Zone = 'bronze' | 'silver' | 'gold' | 'quarantine';

export interface StoredObject {
  key: string;
  size: number;
  lastModified: Date;
  /** Version id where the store keeps versions, else the ETag or a content hash. */
  version?: string;
}

export interface PutOptions {
  /**
   * Create only: fail with ObjectExistsError when the key already holds an object (S3 `If-None-Match: *`),
   * never overwrite it. For raw input, where an overwrite would lose the earlier bytes.
   */
  ifNoneMatch?: boolean;
}

/** A create-only put found the key taken. */
export class ObjectExistsError extends Error {
  constructor(
    readonly zone: Zone,
    readonly key: string,
  ) {
    super(`${zone} already holds an object under ${key}`);
    this.name = 'ObjectExistsError';
  }
}

export interface OpenOptions {
  /** That version of the object (stores that keep versions); the current object when absent. */
  versionId?: string;
  /** Only bytes `start`..`end` (inclusive, as HTTP ranges); to the end when `end` is absent. */
  range?: { start: number; end?: number };
}

/** An object opened for reading, with the identity of exactly what is read. */
export interface OpenedObject {
  body: Readable;
  /** The version read; undefined where the store keeps no versions (or kept none for this object). */
  versionId?: string;
  /** The store's entity tag, as it returns it (S3: quoted). */
  etag?: string;
  lastModified?: Date;
  /** Bytes in `body`. */
  size?: number;
}

export interface ObjectStore {
  /** Uploads a local file (streamed; multipart where the store needs it). */
  putFile(zone: Zone, key: string, localPath: string, contentType?: string, options?: PutOptions): Promise<void>;
  putBytes(zone: Zone, key: string, body: Uint8Array | string, contentType?: string): Promise<void>;
  /**
   * Uploads bytes as they are produced, nothing kept but the parts in flight (S3: multipart upload, aborted
   * on failure); readers never see a partial object. The body's own error fails the put.
   */
  putStream(zone: Zone, key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. Small objects only (manifests). */
  getBytes(zone: Zone, key: string): Promise<Uint8Array | undefined>;
  /** Streams an object's bytes. */
  getStream(zone: Zone, key: string): Promise<Readable>;
  /** Opens an object (or one version, or a byte range of it); undefined when it does not exist. */
  open(zone: Zone, key: string, options?: OpenOptions): Promise<OpenedObject | undefined>;
  /** Copies an object to another key of the same zone (S3: CopyObject, objects up to 5 GiB). */
  copy(zone: Zone, fromKey: string, toKey: string): Promise<void>;
  list(zone: Zone, prefix: string): AsyncIterable<StoredObject>;
  delete(zone: Zone, keys: readonly string[]): Promise<void>;
  /**
   * Versioned stores: permanently deletes every version of `key` but the current one (and delete markers), so a
   * replaced object's old bytes are gone too (erasure). Returns how many were deleted. Stores that keep no
   * earlier versions (the local lake) leave it out.
   */
  purgeEarlierVersions?(zone: Zone, key: string): Promise<number>;
}

export interface PartitionSpec {
  /** Partition values in partition-key order, e.g. `["2024", "01"]`. */
  values: string[];
  /** Key prefix of the partition inside its zone, e.g. `transactions/year=2024/month=01/`. */
  prefix: string;
}

export interface Catalog {
  /** Registers partitions of a dataset's silver table. Existing partitions are success. */
  addPartitions(dataset: string, partitions: readonly PartitionSpec[]): Promise<void>;
}

export type Row = Record<string, unknown>;

export interface QueryResult {
  columns: string[];
  rows: Row[];
  /** Bytes the engine scanned, where it reports them (Athena). */
  bytesScanned?: number;
}

/** The query engine rejected or failed the SQL (syntax, unknown table, type error): the user's to fix, with the engine's reason. */
export class QueryError extends Error {
  constructor(
    message: string,
    readonly sql: string,
    /** Athena's id of the failed execution, when there was one. */
    readonly queryExecutionId?: string,
  ) {
    super(message);
    this.name = 'QueryError';
  }
}

/**
 * Runs analyst SQL. SQL names tables `silver.<dataset>`, `gold.<table>` and `quarantine.<dataset>`;
 * locally these are DuckDB schemas over the lake directory, on AWS they map to the stage's Glue databases.
 */
export interface QueryEngine {
  query(sql: string): Promise<QueryResult>;
  close(): Promise<void>;
}
