import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeObjectPattern } from '../compliance/acknowledgments.ts';
import { resolveRetention, type LakeRetention } from './retention.ts';
import { ZONES, type StorageZone, type ZoneDefinition } from './zones.ts';

export interface LakeStorageProps {
  /**
   * Prefix of the key alias (`alias/<namePrefix>-lake`).
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * Bring your own key: the KMS key that encrypts every zone, query results, logs and alarm notifications.
   * The lake adds the statements its services need (CloudWatch Logs for its log groups, S3 use through the
   * producers' grants) to the key's policy when the key is a `kms.Key` of this app; an imported key's policy is
   * not changed, so it must already allow them. The lake never schedules a key it did not create for deletion.
   * @default - a new customer-managed key, rotated yearly, aliased `alias/<namePrefix>-lake`
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Lifecycle of each zone.
   * @default - see `DEFAULT_RETENTION`
   */
  readonly retention?: LakeRetention;
  /**
   * Object Lock (write once, read many) on the bronze bucket: the default retention of every new object
   * version, `ObjectLockRetention.governance(…)` (principals with `s3:BypassGovernanceRetention` can still
   * remove a version early) or `.compliance(…)` (nobody can). Once on, Object Lock cannot be turned off; objects
   * written before it was turned on are not locked. Bronze's noncurrent versions must then be kept at least as
   * long (`retention.bronzeNoncurrentVersionExpirationDays`).
   * @default - no Object Lock
   */
  readonly bronzeObjectLock?: s3.ObjectLockRetention;
  /**
   * Whether `cdk destroy` deletes the buckets with their objects and schedules the key for deletion.
   * Leave false wherever the data matters.
   * @default false
   */
  readonly allowDestroy?: boolean;
}

/** How a read grant may list its zone. */
export interface ReadGrantOptions {
  /**
   * Whether the grantee may list the whole bucket (`s3:ListBucket` without an `s3:prefix` condition). S3
   * answers a GET of a missing key with 404 only to a principal that may list the bucket, and with 403 to any
   * other, so a grantee that reads keys which may not exist yet (and takes `NoSuchKey` for "none") needs it.
   * @default false - listing is limited to `keyPattern` (`s3:prefix` like `keyPattern`), unless that is `*`
   */
  readonly listWholeBucket?: boolean;
}

const OBJECT_READ_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion'];
const OBJECT_WRITE_ACTIONS = ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'];
// Multipart uploads to SSE-KMS buckets need Decrypt as well as GenerateDataKey.
const KEY_READ_ACTIONS = ['kms:Decrypt'];
const KEY_WRITE_ACTIONS = ['kms:GenerateDataKey', 'kms:Decrypt'];

/**
 * The lake's buckets, one per zone (see `ZONES`), all encrypted, private, TLS-only and access-logged,
 * plus the one KMS key that encrypts them.
 *
 * @example
 * const storage = new LakeStorage(stack, 'Storage', { namePrefix: 'sales', allowDestroy: false });
 * storage.grantRead(analystsRole, 'gold', 'account_monthly_balance/*');
 * new s3deploy.BucketDeployment(stack, 'Seed', { destinationBucket: storage.bucket('bronze'), sources: [] });
 */
export class LakeStorage extends Construct {
  /** The key that encrypts the lake: the one given as `encryptionKey`, or the lake's own, rotated yearly. */
  readonly key: kms.IKey;
  private readonly buckets = new Map<StorageZone, s3.Bucket>();

  constructor(scope: Construct, id: string, props: LakeStorageProps = {}) {
    super(scope, id);
    const allowDestroy = props.allowDestroy ?? false;
    const retention = resolveRetention(props.retention);
    if (props.bronzeObjectLock && allowDestroy) {
      throw new Error(
        'bronzeObjectLock and allowDestroy exclude each other: locked objects cannot be deleted by cdk destroy',
      );
    }
    if (props.bronzeObjectLock) validateObjectLock(props.bronzeObjectLock, retention);

    this.key =
      props.encryptionKey ??
      new kms.Key(this, 'Key', {
        description: 'Medallion lake: encrypts every zone, query results, logs and alarm notifications',
        alias: `alias/${props.namePrefix ?? 'medallion'}-lake`,
        enableKeyRotation: true,
        removalPolicy: allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
        pendingWindow: allowDestroy ? Duration.days(7) : Duration.days(30),
      });

    for (const zone of ZONES) {
      this.buckets.set(zone.zone, this.createBucket(zone, retention, allowDestroy, props.bronzeObjectLock));
    }
  }

  /** The bucket of a zone. */
  bucket(zone: StorageZone): s3.IBucket {
    return this.ownBucket(zone);
  }

  private ownBucket(zone: StorageZone): s3.Bucket {
    const bucket = this.buckets.get(zone);
    if (!bucket) throw new Error(`no bucket for zone ${zone}`);
    return bucket;
  }

  /** Makes S3 send a zone's object events to EventBridge (bronze always does; a consumer may ask for another zone's). */
  enableEventBridge(zone: StorageZone): void {
    enableEventBridge(this.ownBucket(zone));
  }

  /**
   * Lets the grantee read (and decrypt) a zone's objects matching `keyPattern`, and list them: `s3:ListBucket`
   * carries an `s3:prefix` condition of the same pattern unless the pattern is `*` or `listWholeBucket` is set.
   */
  grantRead(grantee: iam.IGrantable, zone: StorageZone, keyPattern = '*', options: ReadGrantOptions = {}): iam.Grant {
    const bucket = this.ownBucket(zone);
    acknowledgeObjectPattern(grantee, bucket, keyPattern);
    const listing =
      options.listWholeBucket || keyPattern === '*'
        ? {}
        : { conditions: { StringLike: { 's3:prefix': [keyPattern] } } };
    return iam.Grant.addToPrincipal({ grantee, actions: ['s3:GetBucketLocation'], resourceArns: [bucket.bucketArn] })
      .combine(
        iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucket'], resourceArns: [bucket.bucketArn], ...listing }),
      )
      .combine(bucket.grants.actionsOnObjectKeys(grantee, keyPattern, ...OBJECT_READ_ACTIONS, ...KEY_READ_ACTIONS));
  }

  /** Lets the grantee write (with the lake key) and delete objects matching `keyPattern` in a zone. */
  grantWrite(grantee: iam.IGrantable, zone: StorageZone, keyPattern = '*'): iam.Grant {
    const bucket = this.ownBucket(zone);
    acknowledgeObjectPattern(grantee, bucket, keyPattern);
    return bucket.grants.actionsOnObjectKeys(grantee, keyPattern, ...OBJECT_WRITE_ACTIONS, ...KEY_WRITE_ACTIONS);
  }

  /**
   * Lets the grantee upload objects matching `keyPattern` in a zone — `s3:PutObject` only (multipart uploads
   * included): no read, no list, no delete. The lake key may be used for it only through S3 and only for this
   * zone's bucket (`kms:ViaService`, and the encryption context S3 uses with bucket keys: the bucket ARN).
   * The grantee needs an identity policy (a role or user of this account, `Role.fromRoleArn` included): a
   * producer of another account assumes such a role. (In a key policy the bucket ARN condition would make
   * the key and the bucket depend on each other.)
   */
  grantPut(grantee: iam.IGrantable, zone: StorageZone, keyPattern: string): iam.Grant {
    const bucket = this.ownBucket(zone);
    acknowledgeObjectPattern(grantee, bucket, keyPattern);
    const keyGrant = iam.Grant.addToPrincipal({
      grantee,
      // Multipart uploads to an SSE-KMS bucket need Decrypt as well as GenerateDataKey.
      actions: ['kms:GenerateDataKey', 'kms:Decrypt'],
      resourceArns: [this.key.keyArn],
      conditions: {
        StringEquals: {
          'kms:ViaService': `s3.${Stack.of(this).region}.amazonaws.com`,
          'kms:EncryptionContext:aws:s3:arn': bucket.bucketArn,
        },
      },
    });
    if (!keyGrant.success) {
      throw new Error(
        `${grantee.grantPrincipal} has no identity policy to hold an upload grant: grant a role of this account (Role.fromRoleArn works), which other accounts' producers assume`,
      );
    }
    return keyGrant.combine(bucket.grants.actionsOnObjectKeys(grantee, keyPattern, 's3:PutObject'));
  }

  /** `grantRead` and `grantWrite` of the same objects. */
  grantReadWrite(
    grantee: iam.IGrantable,
    zone: StorageZone,
    keyPattern = '*',
    options: ReadGrantOptions = {},
  ): iam.Grant {
    return this.grantRead(grantee, zone, keyPattern, options).combine(this.grantWrite(grantee, zone, keyPattern));
  }

  /**
   * Adds an explicit deny of every read in a zone for this principal to the zone's bucket policy, so that no
   * identity policy attached later (say, a broad managed policy) can open the zone to it.
   */
  denyRead(principal: iam.IPrincipal, zone: StorageZone): void {
    const bucket = this.ownBucket(zone);
    bucket.addToResourcePolicy(
      new iam.PolicyStatement({
        effect: iam.Effect.DENY,
        principals: [principal],
        // A deny may be broad; the allows in this lake never are.
        actions: ['s3:GetObject*', 's3:List*'],
        resources: [bucket.bucketArn, bucket.arnForObjects('*')],
      }),
    );
  }

  private createBucket(
    zone: ZoneDefinition,
    retention: Required<LakeRetention>,
    allowDestroy: boolean,
    lock?: s3.ObjectLockRetention,
  ): s3.Bucket {
    const encryptedWithLakeKey = zone.encryption === 'lake-key';
    const objectLock = zone.lockable ? lock : undefined;
    const bucket = new s3.Bucket(this, zone.id, {
      encryption: encryptedWithLakeKey ? s3.BucketEncryption.KMS : s3.BucketEncryption.S3_MANAGED,
      encryptionKey: encryptedWithLakeKey ? this.key : undefined,
      bucketKeyEnabled: encryptedWithLakeKey ? true : undefined,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      enforceSSL: true,
      minimumTLSVersion: 1.2,
      versioned: zone.versioned || objectLock !== undefined,
      objectLockEnabled: objectLock ? true : undefined,
      objectLockDefaultRetention: objectLock,
      serverAccessLogsBucket: zone.accessLogged ? this.bucket('accessLogs') : undefined,
      serverAccessLogsPrefix: zone.accessLogged ? `${zone.zone}/` : undefined,
      lifecycleRules: [
        { id: 'abort-incomplete-multipart-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        ...zone.lifecycle(retention),
      ],
      removalPolicy: allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      autoDeleteObjects: allowDestroy,
    });
    if (zone.emitsEvents) enableEventBridge(bucket);
    if (encryptedWithLakeKey) this.denyForeignEncryption(bucket);
    if (zone.auditLog) protectAuditLog(bucket, allowDestroy);
    acknowledge(bucket, {
      'PCI.DSS.321-S3BucketReplicationEnabled':
        'Cross-region replication is a per-deployment disaster-recovery decision (destination account and region, cost). Within a region S3 stores objects redundantly across zones; bronze is versioned (optionally Object-Locked) and every other zone can be rebuilt from it. Add a replication rule where the DR policy requires one.',
      ...zone.acknowledgments,
    });
    return bucket;
  }

  /**
   * Uploads without encryption headers get the bucket default (the lake key). Uploads that ask for anything
   * else — SSE-S3, DSSE, another KMS key, or `aws:kms` without a key id (which S3 would serve with the AWS
   * managed `aws/s3` key) — are refused. Clients that name the key must name it by its ARN.
   *
   * "Only if the header is present" is `Null: false` next to `StringNotEquals`. Not `StringNotEqualsIfExists`:
   * in a Deny it matches a request *without* the header too (IAM evaluates `…IfExists` on a missing key as
   * true), so it refused every upload that relies on the bucket default — every write of the lake's functions.
   * The integration tier's IAM simulation (test/integration/permissions.test.ts) caught it.
   */
  private denyForeignEncryption(bucket: s3.Bucket): void {
    const objects = bucket.arnForObjects('*');
    const deny = (sid: string, conditions: Record<string, Record<string, string>>) =>
      bucket.addToResourcePolicy(
        new iam.PolicyStatement({
          sid,
          effect: iam.Effect.DENY,
          principals: [new iam.AnyPrincipal()],
          actions: ['s3:PutObject'],
          resources: [objects],
          conditions,
        }),
      );
    const sse = 's3:x-amz-server-side-encryption';
    const sseKey = 's3:x-amz-server-side-encryption-aws-kms-key-id';
    deny('DenyEncryptionOtherThanKms', { StringNotEquals: { [sse]: 'aws:kms' }, Null: { [sse]: 'false' } });
    deny('DenyKmsKeyOtherThanLakeKey', { StringNotEquals: { [sseKey]: this.key.keyArn }, Null: { [sseKey]: 'false' } });
    deny('DenyKmsWithoutLakeKeyId', {
      StringEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
      Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'true' },
    });
  }
}

/**
 * The access-log sink: CDK's policy *allows* the S3 logging service to write (per source bucket); this *denies*
 * writes by anyone else — every IAM principal and every other service (a request by an IAM principal has no
 * `aws:PrincipalServiceName`, and a negated operator matches a missing key). Where data is retained, no object
 * version may be deleted for good: a deletion only adds a delete marker, and lifecycle (not subject to bucket
 * policies) expires logs on schedule.
 */
function protectAuditLog(bucket: s3.Bucket, allowDestroy: boolean): void {
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyWritesExceptS3Logging',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:PutObject'],
      resources: [bucket.arnForObjects('*')],
      conditions: { StringNotEquals: { 'aws:PrincipalServiceName': 'logging.s3.amazonaws.com' } },
    }),
  );
  if (allowDestroy) return; // cdk destroy's auto-delete must remove every version
  bucket.addToResourcePolicy(
    new iam.PolicyStatement({
      sid: 'DenyPermanentDeletion',
      effect: iam.Effect.DENY,
      principals: [new iam.AnyPrincipal()],
      actions: ['s3:DeleteObjectVersion'],
      resources: [bucket.arnForObjects('*')],
    }),
  );
}

/**
 * A lock S3 accepts (whole days), and bronze's lifecycle consistent with it: a replaced or deleted version
 * stays locked for the retention, so the lifecycle must not promise to expire it sooner.
 */
function validateObjectLock(lock: s3.ObjectLockRetention, retention: Required<LakeRetention>): void {
  const days = lock.duration.toDays({ integral: false });
  if (!Number.isInteger(days) || days < 1)
    throw new Error(`bronzeObjectLock retention must be a positive whole number of days (got ${days})`);
  if (retention.bronzeNoncurrentVersionExpirationDays < days) {
    throw new Error(
      `retention.bronzeNoncurrentVersionExpirationDays (${retention.bronzeNoncurrentVersionExpirationDays}) is shorter than the bronze Object Lock retention (${days} days): locked versions cannot expire sooner`,
    );
  }
}

/** The native CloudFormation property, not CDK's notifications custom resource: no extra Lambda, and the bucket does not depend on any consumer. */
function enableEventBridge(bucket: s3.Bucket): void {
  (bucket.node.defaultChild as s3.CfnBucket).notificationConfiguration = {
    eventBridgeConfiguration: { eventBridgeEnabled: true },
  };
}
