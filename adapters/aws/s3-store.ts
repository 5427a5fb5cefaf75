import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectVersionsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type GetObjectCommandOutput,
  type ListObjectVersionsCommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import {
  AccessDeniedError,
  ObjectChangedError,
  ObjectExistsError,
  type ObjectHead,
  type ObjectStore,
  type ObjectVersion,
  type OpenedObject,
  type OpenOptions,
  type PutOptions,
  type PutResult,
  type StoredObject,
  type TaggedBytes,
  type Zone,
} from '../../engine/contract/index.ts';
import { describeAwsError, httpStatusOf, isNotFoundError, isTransientError } from './aws-errors.ts';

/** The bucket behind each zone. Zones without a bucket (e.g. gold for the ingest function) cannot be used. */
export type ZoneBuckets = Partial<Record<Zone, string>>;

/** An S3 call failed. Names the operation, bucket and key; `transient` says whether a retry can succeed. */
export class S3StoreError extends Error {
  readonly transient: boolean;

  constructor(
    readonly operation: string,
    readonly bucket: string,
    readonly key: string,
    override readonly cause: unknown,
  ) {
    super(`S3 ${operation} s3://${bucket}/${key} failed: ${describeAwsError(cause)}`);
    this.name = 'S3StoreError';
    this.transient = isTransientError(cause);
  }
}

/**
 * Times a conditional delete or replace (`If-Match`) is sent when S3 answers 409 (a concurrent put or delete of the
 * key finished first).
 */
export const CONDITIONAL_DELETE_ATTEMPTS = 3;

/** S3's upper limit of keys per DeleteObjects request. */
export const DELETE_BATCH_SIZE = 1000;
/** Multipart part size for uploads of local files (S3 minimum 5 MiB; 10 000 parts → files up to 160 GiB). */
export const UPLOAD_PART_SIZE = 16 * 1024 * 1024;
/** Parts uploaded concurrently: memory held by an upload is about `partSize × queueSize`. */
export const UPLOAD_QUEUE_SIZE = 2;
/**
 * Local files above one part uploaded at once by one store, however many puts its callers run at once (the
 * ingest places 16 silver files at a time): each holds about `partSize × queueSize` (32 MiB), and a one-pass
 * text may give partition files of any size. Smaller files go as single PUTs, at whatever concurrency.
 */
export const MULTIPART_FILES_AT_ONCE = 2;

export interface S3ObjectStoreOptions {
  /** @default UPLOAD_PART_SIZE (16 MiB) */
  partSize?: number;
  /** @default UPLOAD_QUEUE_SIZE (2) */
  queueSize?: number;
  /** @default MULTIPART_FILES_AT_ONCE (2) */
  multipartFilesAtOnce?: number;
  /** Keys per ListObjectsV2 page. @default 1000 (the S3 maximum) */
  listPageSize?: number;
}

/** The lake's zones as S3 buckets. */
export class S3ObjectStore implements ObjectStore {
  private readonly partSize: number;
  private readonly queueSize: number;
  private readonly listPageSize: number | undefined;
  private readonly multipartFiles: Slots;

  constructor(
    readonly client: S3Client,
    readonly buckets: ZoneBuckets,
    options: S3ObjectStoreOptions = {},
  ) {
    this.partSize = options.partSize ?? UPLOAD_PART_SIZE;
    this.queueSize = options.queueSize ?? UPLOAD_QUEUE_SIZE;
    this.listPageSize = options.listPageSize;
    const multipartFiles = options.multipartFilesAtOnce ?? MULTIPART_FILES_AT_ONCE;
    if (!Number.isInteger(multipartFiles) || multipartFiles < 1)
      throw new RangeError(`multipartFilesAtOnce must be a whole number ≥ 1, got ${multipartFiles}`);
    this.multipartFiles = new Slots(multipartFiles);
  }

  /** Releases the client's connections (a CLI command's end); the store is unusable after. */
  destroy(): void {
    this.client.destroy();
  }

  bucket(zone: Zone): string {
    const bucket = this.buckets[zone];
    if (!bucket) throw new Error(`no bucket is configured for the ${zone} zone`);
    return bucket;
  }

  /**
   * Streams the file from disk; lib-storage switches to multipart above one part and aborts a failed upload.
   * Create only (`ifNoneMatch`): S3's conditional write, `If-None-Match: *` on the PutObject or on the
   * CompleteMultipartUpload; a taken key answers 412 and becomes ObjectExistsError.
   */
  async putFile(
    zone: Zone,
    key: string,
    localPath: string,
    contentType?: string,
    options: PutOptions = {},
  ): Promise<PutResult> {
    const bucket = this.bucket(zone);
    const release = (await stat(localPath)).size > this.partSize ? await this.multipartFiles.take() : undefined;
    try {
      return await this.upload(zone, bucket, key, localPath, contentType, options);
    } finally {
      release?.();
    }
  }

  private async upload(
    zone: Zone,
    bucket: string,
    key: string,
    localPath: string,
    contentType: string | undefined,
    options: PutOptions,
  ): Promise<PutResult> {
    const upload = new Upload({
      client: this.client,
      params: {
        Bucket: bucket,
        Key: key,
        Body: createReadStream(localPath),
        ContentType: contentType,
        IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
        IfMatch: options.ifMatch, // a multipart upload's complete takes it too
        Metadata: options.metadata ? { ...options.metadata } : undefined,
      },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    const { onProgress } = options;
    if (onProgress) upload.on('httpUploadProgress', (p) => onProgress(p.loaded ?? 0));
    try {
      const done = await upload.done();
      return { versionId: realVersion(done.VersionId), etag: done.ETag };
    } catch (error) {
      if (options.ifNoneMatch && isPreconditionFailed(error)) throw new ObjectExistsError(zone, key);
      // 409 ConditionalRequestConflict: another conditional write of the key was in flight — the object may be another
      // now; the caller reads it again (a removal from a shared file retries, an erasure stops to be run again).
      if (
        options.ifMatch !== undefined &&
        (isPreconditionFailed(error) || isNotFoundError(error) || isConditionalConflict(error))
      )
        throw new ObjectChangedError(zone, key, options.ifMatch);
      throw new S3StoreError('Upload', bucket, key, error);
    }
  }

  /** Multipart from a stream: at most `partSize × queueSize` bytes held; a failed upload is aborted (no parts left). */
  async putStream(zone: Zone, key: string, body: AsyncIterable<Uint8Array>, contentType?: string): Promise<void> {
    const bucket = this.bucket(zone);
    const upload = new Upload({
      client: this.client,
      params: { Bucket: bucket, Key: key, Body: Readable.from(body), ContentType: contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      throw new S3StoreError('Upload', bucket, key, error);
    }
  }

  /**
   * Create only (`ifNoneMatch`): 412 (taken) or 409 (a racing conditional write) is ObjectExistsError. Replace only
   * (`ifMatch`, PutObject `If-Match: <etag>`): S3 compares and writes in one step; 412 (another object) and 404
   * (none) are ObjectChangedError; 409 (a concurrent put or delete of the key finished first) is asked again, whose
   * answer then decides. Needs s3:GetObject on the key besides s3:PutObject.
   */
  async putBytes(
    zone: Zone,
    key: string,
    body: Uint8Array | string,
    contentType?: string,
    options: Pick<PutOptions, 'ifNoneMatch' | 'ifMatch'> = {},
  ): Promise<void> {
    const bucket = this.bucket(zone);
    const { ifMatch } = options;
    if (ifMatch !== undefined && options.ifNoneMatch)
      throw new Error(`put of ${key}: ifMatch and ifNoneMatch exclude each other`);
    const IfNoneMatch = options.ifNoneMatch ? '*' : undefined;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(
          new PutObjectCommand({
            Bucket: bucket,
            Key: key,
            Body: body,
            ContentType: contentType,
            IfNoneMatch,
            IfMatch: ifMatch,
          }),
        );
        return;
      } catch (error) {
        if (IfNoneMatch && (isPreconditionFailed(error) || isConditionalConflict(error)))
          throw new ObjectExistsError(zone, key);
        if (ifMatch !== undefined) {
          if (isPreconditionFailed(error) || isNotFoundError(error)) throw new ObjectChangedError(zone, key, ifMatch);
          if (isConditionalConflict(error) && attempt < CONDITIONAL_DELETE_ATTEMPTS) continue;
        }
        throw new S3StoreError('PutObject', bucket, key, error);
      }
    }
  }

  async getBytes(zone: Zone, key: string): Promise<Uint8Array | undefined> {
    const bucket = this.bucket(zone);
    try {
      const response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      return await bodyOf(response, bucket, key).transformToByteArray();
    } catch (error) {
      if (isNotFoundError(error)) return undefined;
      throw new S3StoreError('GetObject', bucket, key, error);
    }
  }

  /** One GetObject: its body and the ETag S3 sent with it. */
  async getBytesWithEtag(zone: Zone, key: string): Promise<TaggedBytes | undefined> {
    const bucket = this.bucket(zone);
    let response: GetObjectCommandOutput;
    let bytes: Uint8Array;
    try {
      response = await this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      bytes = await bodyOf(response, bucket, key).transformToByteArray();
    } catch (error) {
      if (isNotFoundError(error)) return undefined;
      throw new S3StoreError('GetObject', bucket, key, error);
    }
    if (!response.ETag) throw new S3StoreError('GetObject', bucket, key, new Error('response has no ETag'));
    return { bytes, etag: response.ETag };
  }

  /** HeadObject: 404 is none, 403 is AccessDeniedError (an identity that may put but not read). */
  async head(zone: Zone, key: string): Promise<ObjectHead | undefined> {
    const bucket = this.bucket(zone);
    try {
      const head = await this.client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
      return {
        key,
        size: head.ContentLength ?? 0,
        lastModified: head.LastModified ?? new Date(0),
        versionId: realVersion(head.VersionId),
        etag: head.ETag,
        metadata: head.Metadata ?? {},
      };
    } catch (error) {
      if (isNotFoundError(error)) return undefined;
      if (httpStatusOf(error) === 403) throw new AccessDeniedError(zone, key, 'HeadObject');
      throw new S3StoreError('HeadObject', bucket, key, error);
    }
  }

  async getStream(zone: Zone, key: string): Promise<Readable> {
    const bucket = this.bucket(zone);
    const response = await this.call('GetObject', bucket, key, () =>
      this.client.send(new GetObjectCommand({ Bucket: bucket, Key: key })),
    );
    return toReadable(bodyOf(response, bucket, key));
  }

  /** GetObject of the version (or the current object) and range asked for; S3's `null` version id is none. */
  async open(zone: Zone, key: string, options: OpenOptions = {}): Promise<OpenedObject | undefined> {
    const bucket = this.bucket(zone);
    const { versionId, range } = options;
    let response: GetObjectCommandOutput;
    try {
      response = await this.client.send(
        new GetObjectCommand({
          Bucket: bucket,
          Key: key,
          VersionId: versionId,
          Range: range ? `bytes=${range.start}-${range.end ?? ''}` : undefined,
        }),
      );
    } catch (error) {
      if (isNotFoundError(error)) return undefined;
      throw new S3StoreError('GetObject', bucket, key, error);
    }
    if (!response.Body) throw new S3StoreError('GetObject', bucket, key, new Error('response has no body'));
    return {
      body: toReadable(response.Body),
      versionId: realVersion(response.VersionId),
      etag: response.ETag,
      lastModified: response.LastModified,
      size: response.ContentLength,
    };
  }

  async copy(zone: Zone, fromKey: string, toKey: string): Promise<void> {
    const bucket = this.bucket(zone);
    const copySource = `${bucket}/${fromKey.split('/').map(encodeURIComponent).join('/')}`;
    await this.call('CopyObject', bucket, `${fromKey} → ${toKey}`, () =>
      this.client.send(new CopyObjectCommand({ Bucket: bucket, Key: toKey, CopySource: copySource })),
    );
  }

  async *list(zone: Zone, prefix: string): AsyncIterable<StoredObject> {
    const bucket = this.bucket(zone);
    let continuationToken: string | undefined;
    do {
      const page = await this.call('ListObjectsV2', bucket, prefix, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: bucket,
            Prefix: prefix,
            ContinuationToken: continuationToken,
            MaxKeys: this.listPageSize,
          }),
        ),
      );
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue;
        yield {
          key: object.Key,
          size: object.Size ?? 0,
          lastModified: object.LastModified ?? new Date(0),
          version: object.ETag?.replace(/"/g, ''),
        };
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (continuationToken);
  }

  async delete(zone: Zone, keys: readonly string[]): Promise<void> {
    const bucket = this.bucket(zone);
    for (let start = 0; start < keys.length; start += DELETE_BATCH_SIZE) {
      const chunk = keys.slice(start, start + DELETE_BATCH_SIZE);
      const label = `${chunk[0]} (+${chunk.length - 1} more)`;
      const response = await this.call('DeleteObjects', bucket, label, () =>
        this.client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk.map((Key) => ({ Key })), Quiet: true } }),
        ),
      );
      const failed = response.Errors ?? [];
      if (failed.length > 0) {
        const summary = failed.slice(0, 5).map((e) => `${e.Key}: ${e.Code} ${e.Message ?? ''}`.trim());
        const cause = Object.assign(
          new Error(`${failed.length} of ${chunk.length} keys not deleted: ${summary.join('; ')}`),
          { name: failed[0]?.Code ?? 'DeleteFailed' },
        );
        throw new S3StoreError('DeleteObjects', bucket, label, cause);
      }
    }
  }

  /**
   * DeleteObject with `If-Match: <etag>` (conditional deletes, general purpose buckets): S3 compares and deletes in
   * one step. 412 is ObjectChangedError; 404 (no current object) is success, nothing being there; 409 (a concurrent
   * put or delete of the key finished first) is asked again, whose answer then decides. Versioned buckets: the
   * current version is compared, and the delete adds a delete marker as any delete does. Needs s3:GetObject on the
   * key besides s3:DeleteObject.
   */
  async deleteIfMatch(zone: Zone, key: string, etag: string): Promise<void> {
    const bucket = this.bucket(zone);
    for (let attempt = 1; ; attempt++) {
      try {
        await this.client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key, IfMatch: etag }));
        return;
      } catch (error) {
        if (isNotFoundError(error)) return;
        if (isPreconditionFailed(error)) throw new ObjectChangedError(zone, key, etag);
        if (isConditionalConflict(error) && attempt < CONDITIONAL_DELETE_ATTEMPTS) continue;
        throw new S3StoreError('DeleteObject', bucket, key, error);
      }
    }
  }

  async *listVersions(zone: Zone, prefix: string): AsyncIterable<ObjectVersion> {
    for await (const page of this.versionPages(zone, prefix)) {
      for (const v of page.Versions ?? []) {
        if (v.Key === undefined) continue;
        yield {
          key: v.Key,
          versionId: realVersion(v.VersionId),
          etag: v.ETag,
          size: v.Size ?? 0,
          lastModified: v.LastModified ?? new Date(0),
          isLatest: v.IsLatest === true,
        };
      }
    }
  }

  async purgeEarlierVersions(zone: Zone, key: string): Promise<number> {
    const bucket = this.bucket(zone);
    const earlier: Array<{ Key: string; VersionId: string }> = [];
    for await (const page of this.versionPages(zone, key)) {
      for (const v of [...(page.Versions ?? []), ...(page.DeleteMarkers ?? [])]) {
        if (v.Key === key && v.VersionId && v.VersionId !== 'null' && !v.IsLatest)
          earlier.push({ Key: key, VersionId: v.VersionId });
      }
    }
    for (let start = 0; start < earlier.length; start += DELETE_BATCH_SIZE) {
      const chunk = earlier.slice(start, start + DELETE_BATCH_SIZE);
      const response = await this.call('DeleteObjects', bucket, key, () =>
        this.client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: chunk, Quiet: true } })),
      );
      const failed = response.Errors ?? [];
      if (failed.length > 0) {
        const cause = Object.assign(
          new Error(
            `${failed.length} earlier versions not deleted: ${failed
              .slice(0, 3)
              .map((e) => `${e.VersionId}: ${e.Code}`)
              .join('; ')}`,
          ),
          { name: failed[0]?.Code ?? 'DeleteFailed' },
        );
        throw new S3StoreError('DeleteObjects', bucket, key, cause);
      }
    }
    return earlier.length;
  }

  /** The pages of ListObjectVersions under a prefix (versions and delete markers). */
  private async *versionPages(zone: Zone, prefix: string): AsyncIterable<ListObjectVersionsCommandOutput> {
    const bucket = this.bucket(zone);
    let keyMarker: string | undefined;
    let versionIdMarker: string | undefined;
    do {
      const page = await this.call('ListObjectVersions', bucket, prefix, () =>
        this.client.send(
          new ListObjectVersionsCommand({
            Bucket: bucket,
            Prefix: prefix,
            KeyMarker: keyMarker,
            VersionIdMarker: versionIdMarker,
            MaxKeys: this.listPageSize,
          }),
        ),
      );
      yield page;
      keyMarker = page.IsTruncated ? page.NextKeyMarker : undefined;
      versionIdMarker = page.IsTruncated ? page.NextVersionIdMarker : undefined;
    } while (keyMarker);
  }

  private async call<T>(operation: string, bucket: string, key: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw new S3StoreError(operation, bucket, key, error);
    }
  }
}

/** S3 names the version of an object written while versioning was off `null`: that is no version. */
const realVersion = (versionId: string | undefined): string | undefined =>
  versionId && versionId !== 'null' ? versionId : undefined;

/** S3's answer to a conditional write whose condition failed (412; a racing conditional write may get 409). */
function isPreconditionFailed(error: unknown): boolean {
  const e = error as { name?: string; Code?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'PreconditionFailed' || e.Code === 'PreconditionFailed' || e.$metadata?.httpStatusCode === 412;
}

/** 409 ConditionalRequestConflict: another conditional write to the key is in progress (it wins or fails; not us). */
function isConditionalConflict(error: unknown): boolean {
  const e = error as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e.name === 'ConditionalRequestConflict' || e.$metadata?.httpStatusCode === 409;
}

type StreamingBody = NonNullable<GetObjectCommandOutput['Body']>;

function bodyOf(response: GetObjectCommandOutput, bucket: string, key: string): StreamingBody {
  if (!response.Body) throw new Error(`S3 GetObject s3://${bucket}/${key} returned no body`);
  return response.Body;
}

/** In Node the SDK's body is an `IncomingMessage` (a Readable); wrap anything else defensively. */
export function toReadable(body: StreamingBody): Readable {
  if (body instanceof Readable) return body;
  return Readable.from(body as unknown as AsyncIterable<Uint8Array>);
}

/**
 * A number of slots, handed out in the order asked for. (The engine's `OrderedSlots` is not reached from here: the
 * engine's face brings DuckDB, which the functions that only store objects do not bundle.)
 */
class Slots {
  private readonly waiting: Array<() => void> = [];

  constructor(private free: number) {}

  /** Once a slot is free: the function that releases it (once). */
  async take(): Promise<() => void> {
    if (this.free > 0) this.free--;
    else await new Promise<void>((resolve) => this.waiting.push(resolve));
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const next = this.waiting.shift();
      if (next) next();
      else this.free++;
    };
  }
}
