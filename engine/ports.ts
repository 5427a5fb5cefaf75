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
  /**
   * Replace only: write only while the key still holds the object whose entity tag this is (from
   * `getBytesWithEtag`, or `open` `withEtag`; S3 `If-Match`), compared and replaced in one atomic step;
   * ObjectChangedError, nothing written, when the key holds another object or none. Not with `ifNoneMatch`. For
   * objects several writers replace (intent records, shared compacted files), where a read, a check and a plain put
   * could overwrite another writer's.
   */
  ifMatch?: string;
  /**
   * User metadata kept with the object (S3 `x-amz-meta-*`), returned by `head`. Stores that keep no metadata
   * (the local lake) ignore it.
   */
  metadata?: Readonly<Record<string, string>>;
  /** Called as bytes are sent, with the total so far (for a progress bar). */
  onProgress?: (bytesSent: number) => void;
  /**
   * The caller neither changes nor reuses the local file after the put (engine scratch): a store on the same disk
   * may keep the file itself instead of a copy of it (the local lake links it). S3 uploads it as always.
   * @default false
   */
  handOver?: boolean;
}

/** What a put wrote: the identity the store gave the new object. */
export interface PutResult {
  /** The new object's version; undefined where the store keeps no versions. */
  versionId?: string;
  /** The store's entity tag, as it returns it (S3: quoted); undefined where it has none. */
  etag?: string;
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

/**
 * A conditional delete or put (`deleteIfMatch`, `putBytes` `ifMatch`) found the key holding another object than
 * the one named by its entity tag (S3 412): it was replaced since it was read, or deleted and created again (a
 * put: or deleted). Nothing was deleted or written.
 */
export class ObjectChangedError extends Error {
  constructor(
    readonly zone: Zone,
    readonly key: string,
    readonly etag: string,
  ) {
    super(`${zone}/${key} is no longer the object read with entity tag ${etag}: it was left as it is`);
    this.name = 'ObjectChangedError';
  }
}

/** A small object's bytes and the entity tag of exactly those bytes (one read). */
export interface TaggedBytes {
  bytes: Uint8Array;
  /** The store's entity tag (S3: quoted, as it returns it): what `deleteIfMatch` and `putBytes` `ifMatch` take. */
  etag: string;
}

/** This identity may not read (or write) the object: the store refused, it did not say whether the key exists. */
export class AccessDeniedError extends Error {
  constructor(
    readonly zone: Zone,
    readonly key: string,
    readonly operation: string,
  ) {
    super(`${operation} of ${zone}/${key} was refused: access denied`);
    this.name = 'AccessDeniedError';
  }
}

/** An object's identity and metadata, without its bytes. */
export interface ObjectHead {
  key: string;
  size: number;
  lastModified: Date;
  /** Undefined where the store keeps no versions. */
  versionId?: string;
  /** The store's entity tag, as it returns it (S3: quoted); undefined where it has none. */
  etag?: string;
  /** User metadata written with `PutOptions.metadata`; empty where the store keeps none. */
  metadata: Readonly<Record<string, string>>;
}

/** One version of an object, as a versioned store lists it (delete markers are not listed). */
export interface ObjectVersion {
  key: string;
  /** Undefined where the store keeps no versions (the only version there is). */
  versionId?: string;
  etag?: string;
  size: number;
  lastModified: Date;
  /** Whether this is the object's current version (false for every version of a key whose latest is deleted). */
  isLatest: boolean;
}

export interface OpenOptions {
  /** That version of the object (stores that keep versions); the current object when absent. */
  versionId?: string;
  /** Only bytes `start`..`end` (inclusive, as HTTP ranges); to the end when `end` is absent. */
  range?: { start: number; end?: number };
  /**
   * The entity tag of exactly the object read, for a conditional put over it (`putFile` `ifMatch`): S3 always gives
   * it; a store that must compute it (the local lake: its bytes' MD5, read once more) does so only when asked.
   */
  withEtag?: boolean;
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
  putFile(zone: Zone, key: string, localPath: string, contentType?: string, options?: PutOptions): Promise<PutResult>;
  /**
   * Small objects (records, manifests, leases). `ifNoneMatch`: create only — of two writers racing for one key
   * exactly one succeeds, the other gets ObjectExistsError, and nothing is overwritten. `ifMatch`: replace only
   * the object read (its entity tag), in one step — ObjectChangedError, nothing written, when the key holds
   * another object or none.
   */
  putBytes(
    zone: Zone,
    key: string,
    body: Uint8Array | string,
    contentType?: string,
    options?: Pick<PutOptions, 'ifNoneMatch' | 'ifMatch'>,
  ): Promise<void>;
  /**
   * Uploads bytes as they are produced, nothing kept but the parts in flight (S3: multipart upload, aborted
   * on failure); readers never see a partial object. The body's own error fails the put.
   */
  putStream(zone: Zone, key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<void>;
  /** The object's bytes, or undefined when it does not exist. Small objects only (manifests). */
  getBytes(zone: Zone, key: string): Promise<Uint8Array | undefined>;
  /**
   * The object's bytes with the entity tag of those same bytes (one read), or undefined when it does not exist.
   * Small objects only (records, leases): read this way to be deleted with `deleteIfMatch`.
   */
  getBytesWithEtag(zone: Zone, key: string): Promise<TaggedBytes | undefined>;
  /** The object's identity and metadata, or undefined when it does not exist; AccessDeniedError when refused. */
  head(zone: Zone, key: string): Promise<ObjectHead | undefined>;
  /** Streams an object's bytes. */
  getStream(zone: Zone, key: string): Promise<Readable>;
  /** Opens an object (or one version, or a byte range of it); undefined when it does not exist. */
  open(zone: Zone, key: string, options?: OpenOptions): Promise<OpenedObject | undefined>;
  /** Copies an object to another key of the same zone (S3: CopyObject, objects up to 5 GiB). */
  copy(zone: Zone, fromKey: string, toKey: string): Promise<void>;
  list(zone: Zone, prefix: string): AsyncIterable<StoredObject>;
  /**
   * Every version of the objects under a prefix (S3: ListObjectVersions, delete markers left out), in key order.
   * Stores that keep no versions list each object once, as its latest version without a version id.
   */
  listVersions(zone: Zone, prefix: string): AsyncIterable<ObjectVersion>;
  delete(zone: Zone, keys: readonly string[]): Promise<void>;
  /**
   * Deletes the object under `key` only if it is still the one whose entity tag is `etag` (from
   * `getBytesWithEtag`), in one atomic step (S3: DeleteObject `If-Match`): no put or other conditional delete
   * lands between the comparison and the delete. Throws ObjectChangedError, deleting nothing, when the key holds
   * another object; resolves when it holds none (already deleted). For records that several writers replace or
   * delete (leases, intent records), where a read, a check and a plain delete could delete another writer's.
   */
  deleteIfMatch(zone: Zone, key: string, etag: string): Promise<void>;
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
