import { Duration } from 'aws-cdk-lib';
import * as s3 from 'aws-cdk-lib/aws-s3';
import type { Zone } from '../../engine/contract/index.ts';
import type { LakeRetention } from './retention.ts';

/** Every bucket of the lake: the engine's data zones plus Athena results and the access-log sink. */
export type StorageZone = Zone | 'athenaResults' | 'accessLogs';

/** What distinguishes one zone's bucket from another. Everything else (TLS, public access, ownership) is common. */
export interface ZoneDefinition {
  readonly zone: StorageZone;
  /** Construct id of the bucket. */
  readonly id: string;
  readonly purpose: string;
  /**
   * `lake-key`: SSE-KMS with the lake's key, and a bucket policy that refuses any other encryption.
   * `s3-managed`: SSE-S3 — only for the access-log sink, because S3 server access logging cannot deliver
   * into an SSE-KMS bucket.
   */
  readonly encryption: 'lake-key' | 's3-managed';
  readonly versioned: boolean;
  /** Whether the bucket's own server access logs go to the access-log sink (not the sink itself). */
  readonly accessLogged: boolean;
  /** Whether S3 sends this bucket's object events to EventBridge (only bronze triggers ingestion). */
  readonly emitsEvents: boolean;
  /** Whether the stage may opt this bucket into Object Lock (WORM). Only the system of record needs it. */
  readonly lockable: boolean;
  /**
   * An audit trail (the access-log sink): only the S3 logging service may write objects (an explicit deny for
   * every other principal), and where data is retained nobody may delete an object version for good.
   */
  readonly auditLog?: boolean;
  /** cdk-nag findings this zone's bucket raises by design, with the reason. */
  readonly acknowledgments?: Record<string, string>;
  /** Lifecycle rules beyond the common "abort incomplete multipart uploads after 1 day". */
  readonly lifecycle: (retention: Required<LakeRetention>) => s3.LifecycleRule[];
}

const days = (n: number): Duration => Duration.days(n);

const expireNoncurrentVersions = (r: Required<LakeRetention>): s3.LifecycleRule => ({
  id: 'expire-noncurrent-versions',
  noncurrentVersionExpiration: days(r.noncurrentVersionExpirationDays),
  expiredObjectDeleteMarker: true,
});

const tierCuratedData = (r: Required<LakeRetention>): s3.LifecycleRule => ({
  id: 'tier-curated-data',
  transitions: [
    { storageClass: s3.StorageClass.INTELLIGENT_TIERING, transitionAfter: days(r.curatedIntelligentTieringAfterDays) },
  ],
});

/** The lake's buckets, as data. Order is the order they are created in. */
export const ZONES: readonly ZoneDefinition[] = [
  {
    zone: 'accessLogs',
    id: 'AccessLogsBucket',
    purpose: 'S3 server access logs of every other lake bucket',
    encryption: 's3-managed',
    // Versioned, so a deleted log leaves its version behind (and, where data is retained, no version can be
    // deleted for good except by lifecycle).
    versioned: true,
    accessLogged: false,
    emitsEvents: false,
    lockable: false,
    auditLog: true,
    acknowledgments: {
      'PCI.DSS.321-S3DefaultEncryptionKMS':
        'S3 server access logging can only deliver to buckets encrypted with SSE-S3, not SSE-KMS.',
    },
    lifecycle: (r) => [
      { id: 'expire-access-logs', expiration: days(r.accessLogsExpirationDays) },
      expireNoncurrentVersions(r),
    ],
  },
  {
    zone: 'bronze',
    id: 'BronzeBucket',
    purpose: 'Raw files exactly as producers delivered them; the replayable system of record',
    encryption: 'lake-key',
    versioned: true,
    accessLogged: true,
    emitsEvents: true,
    lockable: true,
    lifecycle: (r) => [
      {
        id: 'tier-raw-files',
        transitions: [
          { storageClass: s3.StorageClass.INFREQUENT_ACCESS, transitionAfter: days(r.bronzeInfrequentAccessAfterDays) },
          { storageClass: s3.StorageClass.GLACIER_INSTANT_RETRIEVAL, transitionAfter: days(r.bronzeArchiveAfterDays) },
        ],
      },
      { ...expireNoncurrentVersions(r), noncurrentVersionExpiration: days(r.bronzeNoncurrentVersionExpirationDays) },
    ],
  },
  {
    zone: 'silver',
    id: 'SilverBucket',
    purpose: 'Validated, typed Parquet per dataset contract, plus ingest manifests under _manifests/',
    encryption: 'lake-key',
    versioned: true,
    accessLogged: true,
    emitsEvents: false,
    lockable: false,
    lifecycle: (r) => [tierCuratedData(r), expireNoncurrentVersions(r)],
  },
  {
    zone: 'gold',
    id: 'GoldBucket',
    purpose: 'Analyst-facing aggregates and curated tables',
    encryption: 'lake-key',
    versioned: true,
    accessLogged: true,
    emitsEvents: false,
    lockable: false,
    lifecycle: (r) => [tierCuratedData(r), expireNoncurrentVersions(r)],
  },
  {
    zone: 'quarantine',
    id: 'QuarantineBucket',
    purpose: 'Rejected records and files with the reasons they were rejected',
    encryption: 'lake-key',
    versioned: true,
    accessLogged: true,
    emitsEvents: false,
    lockable: false,
    lifecycle: (r) => [
      { id: 'expire-quarantine', expiration: days(r.quarantineExpirationDays) },
      expireNoncurrentVersions(r),
    ],
  },
  {
    zone: 'athenaResults',
    id: 'AthenaResultsBucket',
    purpose: 'Athena query results, one prefix per workgroup',
    acknowledgments: {
      'PCI.DSS.321-S3BucketVersioningEnabled':
        'Query results are disposable outputs (each query writes new objects, expired by lifecycle); versions would only keep deleted results longer.',
    },
    encryption: 'lake-key',
    versioned: false,
    accessLogged: true,
    emitsEvents: false,
    lockable: false,
    lifecycle: (r) => [{ id: 'expire-query-results', expiration: days(r.athenaResultsExpirationDays) }],
  },
];
