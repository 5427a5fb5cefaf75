import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import { DataLake } from '../../lib/data-lake.ts';
import * as kms from 'aws-cdk-lib/aws-kms';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import { LakeStorage } from '../../lib/storage/lake-storage.ts';
import { ZONES, type StorageZone } from '../../lib/storage/zones.ts';
import {
  bucketPolicyStatements,
  logicalId,
  removeSynthOutputs,
  skipBuiltinTemplateValidation,
  synthLake,
  testApp,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

const LAKE_KEY_ZONES: StorageZone[] = ['bronze', 'silver', 'gold', 'quarantine', 'athenaResults'];

let dev: { stack: MedallionLakeStack; template: Template };
let prod: { stack: MedallionLakeStack; template: Template };

beforeAll(() => {
  dev = synthLake({ context: { stage: 'dev' } });
  prod = synthLake({ context: { stage: 'prod' } });
});
afterAll(removeSynthOutputs);

const bucketId = (zone: StorageZone, stack = dev.stack) => logicalId(stack.lake.storage.bucket(zone));
const bucketProps = (zone: StorageZone, template = dev.template, stack = dev.stack) =>
  template.toJSON().Resources[bucketId(zone, stack)].Properties as Record<string, unknown>;
const lifecycleRules = (zone: StorageZone, template = dev.template, stack = dev.stack) =>
  (bucketProps(zone, template, stack).LifecycleConfiguration as { Rules: Record<string, unknown>[] }).Rules;

describe('zone buckets', () => {
  it('creates exactly one bucket per zone of the zone table', () => {
    dev.template.resourceCountIs('AWS::S3::Bucket', ZONES.length);
    expect(ZONES.map((z) => z.zone).sort()).toEqual([
      'accessLogs',
      'athenaResults',
      'bronze',
      'gold',
      'quarantine',
      'silver',
    ]);
  });

  it('has one KMS key, rotated', () => {
    dev.template.resourceCountIs('AWS::KMS::Key', 1);
    dev.template.hasResourceProperties('AWS::KMS::Key', { EnableKeyRotation: true });
  });

  it.each(LAKE_KEY_ZONES)('encrypts %s with the lake key and a bucket key', (zone) => {
    expect(bucketProps(zone).BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [
        {
          BucketKeyEnabled: true,
          ServerSideEncryptionByDefault: {
            SSEAlgorithm: 'aws:kms',
            KMSMasterKeyID: { 'Fn::GetAtt': [logicalId(dev.stack.lake.storage.key), 'Arn'] },
          },
        },
      ],
    });
  });

  it('encrypts the access-log sink with SSE-S3, the only encryption S3 server access logging delivers to', () => {
    expect(bucketProps('accessLogs').BucketEncryption).toEqual({
      ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
    });
  });

  it.each(ZONES.map((z) => z.zone))('blocks public access and enforces bucket-owner object ownership on %s', (zone) => {
    expect(bucketProps(zone).PublicAccessBlockConfiguration).toEqual({
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true,
    });
    expect(bucketProps(zone).OwnershipControls).toEqual({ Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] });
  });

  it.each(ZONES.map((z) => z.zone))('denies non-TLS and TLS < 1.2 requests to %s', (zone) => {
    const statements = bucketPolicyStatements(dev.template, bucketId(zone));
    const denies = statements.filter((s) => s.effect === 'Deny' && s.actions.includes('s3:*'));
    expect(denies.map((s) => s.conditions)).toEqual(
      expect.arrayContaining([
        { Bool: { 'aws:SecureTransport': 'false' } },
        { NumericLessThan: { 's3:TlsVersion': 1.2 } },
      ]),
    );
  });

  it.each(LAKE_KEY_ZONES)('refuses uploads to %s that ask for SSE-S3, DSSE or another KMS key', (zone) => {
    const keyArn = { 'Fn::GetAtt': [logicalId(dev.stack.lake.storage.key), 'Arn'] };
    const encryptionDenies = bucketPolicyStatements(dev.template, bucketId(zone)).filter(
      (s) => s.sid?.startsWith('Deny') && s.actions.includes('s3:PutObject'),
    );
    expect(encryptionDenies.map((s) => [s.sid, s.principal, s.resources, JSON.stringify(s.conditions)])).toEqual([
      // Only when the header is present (`Null: false`): a Deny with `StringNotEqualsIfExists` also matches a request
      // without it, refusing every upload that relies on the bucket default (shown by test/integration/permissions.test.ts).
      [
        'DenyEncryptionOtherThanKms',
        '*',
        [`\${${bucketId(zone)}.Arn}/*`],
        JSON.stringify({
          StringNotEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
          Null: { 's3:x-amz-server-side-encryption': 'false' },
        }),
      ],
      [
        'DenyKmsKeyOtherThanLakeKey',
        '*',
        [`\${${bucketId(zone)}.Arn}/*`],
        JSON.stringify({
          StringNotEquals: { 's3:x-amz-server-side-encryption-aws-kms-key-id': keyArn },
          Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'false' },
        }),
      ],
      [
        'DenyKmsWithoutLakeKeyId',
        '*',
        [`\${${bucketId(zone)}.Arn}/*`],
        JSON.stringify({
          StringEquals: { 's3:x-amz-server-side-encryption': 'aws:kms' },
          Null: { 's3:x-amz-server-side-encryption-aws-kms-key-id': 'true' },
        }),
      ],
    ]);
  });

  it.each(LAKE_KEY_ZONES)('sends %s server access logs to the access-log sink under its own prefix', (zone) => {
    expect(bucketProps(zone).LoggingConfiguration).toEqual({
      DestinationBucketName: { Ref: bucketId('accessLogs') },
      LogFilePrefix: `${zone}/`,
    });
  });

  it('lets only the S3 logging service write to the access-log sink, which does not log itself', () => {
    expect(bucketProps('accessLogs').LoggingConfiguration).toBeUndefined();
    const writers = bucketPolicyStatements(dev.template, bucketId('accessLogs')).filter(
      (s) => s.effect === 'Allow' && s.actions.includes('s3:PutObject'),
    );
    expect([...new Set(writers.map((s) => s.principal))]).toEqual(['logging.s3.amazonaws.com']);
    expect(writers).toHaveLength(LAKE_KEY_ZONES.length); // one per logged bucket, each conditioned on its source
  });

  it('versions bronze, silver, gold, quarantine and the access logs, not query results', () => {
    const versioned = ZONES.filter(
      (z) => (bucketProps(z.zone).VersioningConfiguration as { Status?: string } | undefined)?.Status === 'Enabled',
    ).map((z) => z.zone);
    expect(versioned.sort()).toEqual(['accessLogs', 'bronze', 'gold', 'quarantine', 'silver']);
  });

  it.each(['dev', 'prod'] as const)(
    '%s: denies writes to the access-log sink by anyone but the S3 logging service',
    (stage) => {
      const { template, stack } = stage === 'dev' ? dev : prod;
      const denies = bucketPolicyStatements(template, bucketId('accessLogs', stack)).filter(
        (s) => s.effect === 'Deny' && s.actions.includes('s3:PutObject'),
      );
      expect(denies).toEqual([
        {
          sid: 'DenyWritesExceptS3Logging',
          effect: 'Deny',
          principal: '*',
          actions: ['s3:PutObject'],
          resources: [`\${${bucketId('accessLogs', stack)}.Arn}/*`],
          conditions: { StringNotEquals: { 'aws:PrincipalServiceName': 'logging.s3.amazonaws.com' } },
        },
      ]);
    },
  );

  it('prod: nobody can delete an access-log version for good (lifecycle still expires them); dev can be destroyed', () => {
    const permanentDeletes = (template: Template, stack: MedallionLakeStack) =>
      bucketPolicyStatements(template, bucketId('accessLogs', stack)).filter(
        (s) => s.effect === 'Deny' && s.actions.includes('s3:DeleteObjectVersion'),
      );
    expect(permanentDeletes(prod.template, prod.stack)).toEqual([
      expect.objectContaining({ principal: '*', resources: [`\${${bucketId('accessLogs', prod.stack)}.Arn}/*`] }),
    ]);
    expect(permanentDeletes(prod.template, prod.stack)[0]?.conditions).toBeUndefined();
    expect(permanentDeletes(dev.template, dev.stack)).toEqual([]);
    expect(lifecycleRules('accessLogs', prod.template, prod.stack)).toContainEqual(
      expect.objectContaining({
        Id: 'expire-noncurrent-versions',
        NoncurrentVersionExpiration: { NoncurrentDays: 90 },
      }),
    );
  });

  it('sends object events to EventBridge from bronze, and from silver for the gold refresh only', () => {
    const emitting = ZONES.filter((z) => bucketProps(z.zone).NotificationConfiguration !== undefined).map(
      (z) => z.zone,
    );
    expect(emitting).toEqual(['bronze', 'silver']);
    expect(bucketProps('silver').NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    expect(bucketProps('bronze').NotificationConfiguration).toEqual({
      EventBridgeConfiguration: { EventBridgeEnabled: true },
    });
    dev.template.resourceCountIs('Custom::S3BucketNotifications', 0);
  });
});

describe('lifecycle', () => {
  it.each(ZONES.map((z) => z.zone))('aborts incomplete multipart uploads after 1 day in %s', (zone) => {
    expect(lifecycleRules(zone)).toContainEqual({
      Id: 'abort-incomplete-multipart-uploads',
      AbortIncompleteMultipartUpload: { DaysAfterInitiation: 1 },
      Status: 'Enabled',
    });
  });

  it('moves bronze to infrequent access, then to archive, and expires replaced versions', () => {
    expect(lifecycleRules('bronze', prod.template, prod.stack)).toEqual(
      expect.arrayContaining([
        {
          Id: 'tier-raw-files',
          Status: 'Enabled',
          Transitions: [
            { StorageClass: 'STANDARD_IA', TransitionInDays: 30 },
            { StorageClass: 'GLACIER_IR', TransitionInDays: 90 },
          ],
        },
        // A year in prod: as long as a version stays locked.
        {
          Id: 'expire-noncurrent-versions',
          Status: 'Enabled',
          ExpiredObjectDeleteMarker: true,
          NoncurrentVersionExpiration: { NoncurrentDays: 365 },
        },
      ]),
    );
  });

  it.each(['silver', 'gold'] as const)(
    'moves %s to Intelligent-Tiering after 30 days (Athena reads it unchanged, no retrieval fee)',
    (zone) => {
      expect(lifecycleRules(zone, prod.template, prod.stack)).toContainEqual({
        Id: 'tier-curated-data',
        Status: 'Enabled',
        Transitions: [{ StorageClass: 'INTELLIGENT_TIERING', TransitionInDays: 30 }],
      });
    },
  );

  it('expires quarantine, Athena results and access logs after the stage retention', () => {
    const expiry = (zone: StorageZone, template: Template, stack: MedallionLakeStack) =>
      lifecycleRules(zone, template, stack).find((r) => r.ExpirationInDays !== undefined)?.ExpirationInDays;
    expect([
      expiry('quarantine', dev.template, dev.stack),
      expiry('athenaResults', dev.template, dev.stack),
      expiry('accessLogs', dev.template, dev.stack),
    ]).toEqual([30, 7, 30]);
    expect([
      expiry('quarantine', prod.template, prod.stack),
      expiry('athenaResults', prod.template, prod.stack),
      expiry('accessLogs', prod.template, prod.stack),
    ]).toEqual([365, 30, 400]);
  });

  it('never expires current bronze, silver or gold objects', () => {
    for (const zone of ['bronze', 'silver', 'gold'] as const) {
      expect(lifecycleRules(zone, prod.template, prod.stack).filter((r) => r.ExpirationInDays !== undefined)).toEqual(
        [],
      );
    }
  });

  it('rejects retention S3 would refuse', () => {
    const stack = new Stack(testApp(), 'Invalid');
    expect(() => new LakeStorage(stack, 'A', { retention: { bronzeInfrequentAccessAfterDays: 10 } })).toThrow(
      /at least 30/,
    );
    expect(() => new LakeStorage(stack, 'B', { retention: { bronzeArchiveAfterDays: 40 } })).toThrow(/30 days after/);
    expect(() => new LakeStorage(stack, 'C', { retention: { quarantineExpirationDays: 0 } })).toThrow(
      /positive whole number/,
    );
  });
});

describe('data on cdk destroy', () => {
  it('retains every bucket and the key when the stage does not allow destruction (prod)', () => {
    for (const zone of ZONES)
      expect(prod.template.toJSON().Resources[bucketId(zone.zone, prod.stack)].DeletionPolicy).toBe('Retain');
    prod.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
    prod.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('deletes buckets with their objects only when the stage allows it (dev)', () => {
    for (const zone of ZONES)
      expect(dev.template.toJSON().Resources[bucketId(zone.zone)].DeletionPolicy).toBe('Delete');
    dev.template.resourceCountIs('Custom::S3AutoDeleteObjects', ZONES.length);
    dev.template.hasResource('AWS::KMS::Key', { DeletionPolicy: 'Delete', Properties: { PendingWindowInDays: 7 } });
  });
});

describe('DataLake removalPolicy (aws-cdk-lib’s RemovalPolicy, not a bespoke flag)', () => {
  const lakeTemplate = (props: ConstructorParameters<typeof DataLake>[2]) => {
    const stack = new Stack(testApp(), 'Removal');
    const lake = new DataLake(stack, 'Lake', props);
    return { lake, template: Template.fromStack(stack) };
  };

  it('DESTROY deletes every bucket with its objects and the key; the default retains them', () => {
    const destroyed = lakeTemplate({ removalPolicy: RemovalPolicy.DESTROY });
    for (const zone of ZONES)
      expect(
        destroyed.template.toJSON().Resources[logicalId(destroyed.lake.storage.bucket(zone.zone))].DeletionPolicy,
      ).toBe('Delete');
    destroyed.template.resourceCountIs('Custom::S3AutoDeleteObjects', ZONES.length);
    const kept = lakeTemplate({});
    for (const zone of ZONES)
      expect(kept.template.toJSON().Resources[logicalId(kept.lake.storage.bucket(zone.zone))].DeletionPolicy).toBe(
        'Retain',
      );
    kept.template.resourceCountIs('Custom::S3AutoDeleteObjects', 0);
  });

  it('refuses policies that cannot apply, and removalPolicy together with the deprecated allowDestroy', () => {
    expect(() => lakeTemplate({ removalPolicy: RemovalPolicy.SNAPSHOT })).toThrow(/DESTROY or RemovalPolicy.RETAIN/);
    expect(() => lakeTemplate({ removalPolicy: RemovalPolicy.RETAIN, allowDestroy: true })).toThrow(/not both/);
  });
});

describe('Object Lock on bronze', () => {
  it('prod: on by default, governance mode, a year; replaced versions kept exactly as long', () => {
    expect(bucketProps('bronze', prod.template, prod.stack)).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'GOVERNANCE', Days: 365 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    expect(lifecycleRules('bronze', prod.template, prod.stack)).toContainEqual(
      expect.objectContaining({
        Id: 'expire-noncurrent-versions',
        NoncurrentVersionExpiration: { NoncurrentDays: 365 },
      }),
    );
    // The other zones keep their own noncurrent expiry.
    expect(lifecycleRules('silver', prod.template, prod.stack)).toContainEqual(
      expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 90 } }),
    );
    prod.template.resourcePropertiesCountIs('AWS::S3::Bucket', { ObjectLockEnabled: true }, 1);
  });

  it('dev: off (its buckets are destroyed with the stack); prod: off only when asked (-c bronzeObjectLock=off)', () => {
    dev.template.allResourcesProperties('AWS::S3::Bucket', { ObjectLockEnabled: Match.absent() });
    const { template } = synthLake({ context: { stage: 'prod', bronzeObjectLock: 'off' } });
    template.allResourcesProperties('AWS::S3::Bucket', { ObjectLockEnabled: Match.absent() });
    expect(() => synthLake({ context: { stage: 'prod', bronzeObjectLock: 'on' } })).toThrow(/only "off"/);
  });

  it('locks bronze only, in the chosen mode and retention', () => {
    const stack = new Stack(testApp(), 'Locked');
    const storage = new LakeStorage(stack, 'Storage', {
      bronzeObjectLock: s3.ObjectLockRetention.compliance(Duration.days(2555)),
      retention: { bronzeNoncurrentVersionExpirationDays: 2555 },
    });
    const template = Template.fromStack(stack);
    expect(template.toJSON().Resources[logicalId(storage.bucket('bronze'))].Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 2555 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
    });
    template.resourcePropertiesCountIs('AWS::S3::Bucket', { ObjectLockEnabled: true }, 1);
  });

  it('refuses a lifecycle that would expire replaced bronze versions before their lock ends', () => {
    const stack = new Stack(testApp(), 'Inconsistent');
    expect(
      () =>
        new LakeStorage(stack, 'Storage', { bronzeObjectLock: s3.ObjectLockRetention.governance(Duration.days(365)) }),
    ).toThrow(
      /bronzeNoncurrentVersionExpirationDays \(30\) is shorter than the bronze Object Lock retention \(365 days\)/,
    );
  });

  it('cannot be combined with allowDestroy', () => {
    const stack = new Stack(testApp(), 'Conflict');
    expect(
      () =>
        new LakeStorage(stack, 'Storage', {
          allowDestroy: true,
          bronzeObjectLock: s3.ObjectLockRetention.governance(Duration.days(30)),
          retention: { bronzeNoncurrentVersionExpirationDays: 30 },
        }),
    ).toThrow(/exclude each other/);
  });
});

describe('a key of your own (encryptionKey)', () => {
  it('encrypts every zone and the log groups with the given key, creates no key of its own, and lets CloudWatch Logs use it', () => {
    const stack = new Stack(testApp(), 'ByoKey');
    const key = new kms.Key(stack, 'PlatformKey', { enableKeyRotation: true });
    const lake = new DataLake(stack, 'Lake', { encryptionKey: key });
    const template = Template.fromStack(stack);
    template.resourceCountIs('AWS::KMS::Key', 1);
    expect(lake.storage.key).toBe(key);
    const keyRef = { 'Fn::GetAtt': [logicalId(key), 'Arn'] };
    for (const zone of LAKE_KEY_ZONES) {
      const props = template.toJSON().Resources[logicalId(lake.storage.bucket(zone))].Properties as Record<
        string,
        unknown
      >;
      expect(JSON.stringify(props.BucketEncryption)).toContain(JSON.stringify(keyRef));
    }
    for (const logGroup of Object.values(template.findResources('AWS::Logs::LogGroup'))) {
      expect((logGroup as { Properties: { KmsKeyId: unknown } }).Properties.KmsKeyId).toEqual(keyRef);
    }
    template.hasResourceProperties('AWS::KMS::Key', {
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Principal: { Service: { 'Fn::Join': Match.anyValue() } },
            Condition: { ArnEquals: Match.anyValue() },
          }),
        ]),
      },
    });
  });
});
