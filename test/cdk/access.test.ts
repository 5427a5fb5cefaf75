import { Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { IConstruct } from 'constructs';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataLake } from '../../lib/data-lake.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import type { StorageZone } from '../../lib/storage/zones.ts';
import {
  allowedPairs,
  bucketPolicyStatements,
  logicalId,
  removeSynthOutputs,
  roleStatements,
  skipBuiltinTemplateValidation,
  synthLake,
  testApp,
  type Statement,
} from '../support/cdk/synth.ts';

skipBuiltinTemplateValidation();

let stack: MedallionLakeStack;
let template: Template;

/** Principals allowed to assume AnalystsRole in these tests: an SSO permission set's role and a SAML provider. */
const ANALYST_ROLE_ARN =
  'arn:aws:iam::111122223333:role/aws-reserved/sso.amazonaws.com/AWSReservedSSO_Analysts_0123456789abcdef';
const ANALYST_SAML_ARN = 'arn:aws:iam::111122223333:saml-provider/CorporateIdP';

beforeAll(() => {
  ({ stack, template } = synthLake({
    context: { stage: 'prod', analystPrincipals: `${ANALYST_ROLE_ARN},${ANALYST_SAML_ARN}` },
  }));
});

function analystsRole(s: MedallionLakeStack = stack): iam.Role {
  if (!s.analystsRole) throw new Error('no AnalystsRole');
  return s.analystsRole;
}
afterAll(removeSynthOutputs);

const arn = (zone: StorageZone) => `\${${logicalId(stack.lake.storage.bucket(zone))}.Arn}`;
const keyArn = () => `\${${logicalId(stack.lake.storage.key)}.Arn}`;
const glue = (resource: string) => `arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:${resource}`;
const database = (zone: 'silver' | 'gold' | 'quarantine') => `\${${logicalId(stack.lake.catalog.databases[zone])}}`;
const pairs = (actions: string[], resources: string[]) => actions.flatMap((a) => resources.map((r) => `${a} on ${r}`));
/** s3:ListBucket on a bucket, only under these key patterns. */
const listUnder = (bucketArn: string, ...patterns: string[]) =>
  `s3:ListBucket on ${bucketArn} if s3:prefix StringLike ${patterns.join('|')}`;

function ingestStatements(): Statement[] {
  const role = stack.lake.ingestion.function.role;
  if (!role) throw new Error('function has no role');
  return roleStatements(template, logicalId(role));
}

/** Data services: any wildcard in an allowed action on them is a finding. */
const DATA_SERVICES = ['s3', 'glue', 'kms', 'athena', 'sqs'];
function wildcardDataActions(statements: readonly Statement[]): string[] {
  return statements
    .filter((s) => s.effect === 'Allow')
    .flatMap((s) => s.actions.filter((a) => a.includes('*') && DATA_SERVICES.includes(a.split(':')[0] ?? '')));
}

/** Running queries in one workgroup, spelled out here (not imported from lib/) so a changed grant fails the test. */
const ATHENA_QUERY_ACTIONS = [
  'athena:StartQueryExecution',
  'athena:StopQueryExecution',
  'athena:GetQueryExecution',
  'athena:GetQueryResults',
  'athena:GetQueryResultsStream',
  'athena:BatchGetQueryExecution',
  'athena:ListQueryExecutions',
  'athena:GetWorkGroup',
  'athena:GetNamedQuery',
  'athena:ListNamedQueries',
  'athena:BatchGetNamedQuery',
];

/** What the Athena console lists and browses (its pickers and the databases/tables panel). */
const ATHENA_CONSOLE_PAIRS = [
  ...pairs(['athena:ListWorkGroups', 'athena:ListEngineVersions', 'athena:ListDataCatalogs'], ['*']),
  ...pairs(
    [
      'athena:GetDataCatalog',
      'athena:ListDatabases',
      'athena:GetDatabase',
      'athena:ListTableMetadata',
      'athena:GetTableMetadata',
    ],
    ['arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:datacatalog/AwsDataCatalog'],
  ),
];

describe('ingest function', () => {
  it('holds exactly these permissions, each on an exact resource', () => {
    const silverTable = glue(`table/${database('silver')}/transactions`);
    expect(allowedPairs(ingestStatements())).toEqual(
      [
        // Whole-bucket listing on both: a missing key (a deleted bronze object, a first manifest) must be a 404.
        ...pairs(['s3:ListBucket', 's3:GetBucketLocation'], [arn('bronze'), arn('silver')]),
        ...pairs(
          ['s3:GetObject', 's3:GetObjectVersion'],
          [
            `${arn('bronze')}/*`,
            `${arn('silver')}/_manifests/*`,
            `${arn('silver')}/_pending/*`,
            // Read only: the maintenance leases an ingest's publish respects (erase and compact hold them).
            `${arn('silver')}/_maintenance/leases/*`,
            `${arn('silver')}/_staging/*`,
            // Compacted files holding rows of a run a publish replaces: rewritten without them.
            `${arn('silver')}/transactions/*part-compacted-*`,
          ],
        ),
        ...pairs(
          ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          [
            `${arn('silver')}/_manifests/*`,
            `${arn('silver')}/_pending/*`,
            `${arn('silver')}/_staging/*`,
            `${arn('silver')}/transactions/*`,
            `${arn('quarantine')}/transactions/*`,
            `${arn('quarantine')}/unknown_dataset/*`,
          ],
        ),
        // Objects too large for one invocation go to the fan-out state machine, this one only.
        'states:StartExecution on arn:${AWS::Partition}:states:${AWS::Region}:${AWS::AccountId}:stateMachine:medallion-prod-fan-out',
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], [keyArn()]),
        ...pairs(
          [
            'glue:BatchCreatePartition',
            'glue:GetTable',
            'glue:GetPartition',
            'glue:GetPartitions',
            'glue:BatchUpdatePartition',
          ],
          [glue('catalog'), glue(`database/${database('silver')}`), silverTable],
        ),
        ...pairs(
          [
            'sqs:ReceiveMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueUrl',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
          ],
          [`\${${logicalId(stack.lake.ingestion.queue)}.Arn}`],
        ),
        ...pairs(
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [`\${${logicalId(stack.lake.ingestion.logGroup)}.Arn}`],
        ),
        ...pairs(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], ['*']),
        // Producer feedback: ingest events on the default bus only.
        ...pairs(
          ['events:PutEvents'],
          ['arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default'],
        ),
      ].sort(),
    );
  });

  it('reads no silver data but compacted files, nothing in quarantine (besides its records: manifests, intents, staged fan-out chunks, the maintenance leases)', () => {
    const reads = allowedPairs(ingestStatements()).filter((p) => /s3:GetObject/.test(p));
    const silverData = reads.filter(
      (p) => p.includes(arn('silver')) && !/\/_(manifests|pending|staging|maintenance\/leases)\//.test(p),
    );
    expect(reads.filter((p) => p.includes(arn('quarantine')))).toEqual([]);
    // A publish rewrites the compacted files holding rows of the run it replaces (engine/maintenance/rewrite.ts).
    expect(silverData.length).toBeGreaterThan(0);
    for (const p of silverData) expect(p).toMatch(/\/transactions\/\*part-compacted-\*$/);
  });

  it('cannot write to bronze, so it can never trigger itself', () => {
    const bronzeWrites = allowedPairs(ingestStatements()).filter(
      (p) => p.includes(arn('bronze')) && !/s3:(Get|List)/.test(p),
    );
    expect(bronzeWrites).toEqual([]);
  });

  it('uses no wildcard action on data, and the only "*" resource is X-Ray’s', () => {
    expect(wildcardDataActions(ingestStatements())).toEqual([]);
    const anyResource = ingestStatements().filter((s) => s.effect === 'Allow' && s.resources.includes('*'));
    expect(anyResource.flatMap((s) => s.actions).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });

  it('has no AWS managed policy attached', () => {
    const role = stack.lake.ingestion.function.role;
    expect(template.toJSON().Resources[logicalId(role as iam.IRole)].Properties.ManagedPolicyArns).toBeUndefined();
  });
});

describe('gold-refresh function', () => {
  const goldStatements = (): Statement[] => {
    const role = stack.lake.goldRefresh?.function.role;
    if (!role) throw new Error('no gold-refresh function');
    return roleStatements(template, logicalId(role));
  };

  it('holds exactly these permissions, each on an exact resource', () => {
    const results = arn('athenaResults');
    const workgroup = 'arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/medallion-prod-platform';
    const refresh = stack.lake.goldRefresh;
    expect(allowedPairs(goldStatements())).toEqual(
      [
        ...pairs(ATHENA_QUERY_ACTIONS, [workgroup]),
        ...pairs(['s3:GetBucketLocation'], [results, arn('silver'), arn('gold')]),
        listUnder(results, 'platform/*'),
        // Silver: only the source dataset's manifests and files, listed only there.
        listUnder(arn('silver'), '_manifests/transactions/*'),
        listUnder(arn('silver'), 'transactions/*'),
        // Gold: the whole bucket, so that the not-yet-written state is a 404 (see ReadGrantOptions).
        ...pairs(['s3:ListBucket'], [arn('gold')]),
        ...pairs(
          ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          [`${results}/platform/*`],
        ),
        ...pairs(
          ['s3:GetObject', 's3:GetObjectVersion'],
          [
            `${arn('silver')}/_manifests/transactions/*`,
            `${arn('silver')}/transactions/*`,
            `${arn('gold')}/account_monthly_balance/*`,
            `${arn('gold')}/_state/*`,
          ],
        ),
        ...pairs(
          ['s3:PutObject', 's3:DeleteObject', 's3:AbortMultipartUpload'],
          [`${arn('gold')}/account_monthly_balance/*`, `${arn('gold')}/_state/*`],
        ),
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], [keyArn()]),
        ...pairs(
          [
            'glue:GetDatabase',
            'glue:GetDatabases',
            'glue:GetTable',
            'glue:GetTables',
            'glue:GetPartition',
            'glue:GetPartitions',
            'glue:BatchGetPartition',
          ],
          [glue('catalog'), glue(`database/${database('silver')}`), glue(`table/${database('silver')}/transactions`)],
        ),
        ...pairs(
          [
            'glue:BatchCreatePartition',
            'glue:GetTable',
            'glue:GetPartition',
            'glue:GetPartitions',
            'glue:BatchUpdatePartition',
            'glue:BatchDeletePartition',
          ],
          [
            glue('catalog'),
            glue(`database/${database('gold')}`),
            glue(`table/${database('gold')}/account_monthly_balance`),
          ],
        ),
        ...pairs(
          [
            'sqs:ReceiveMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueUrl',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
          ],
          [`\${${logicalId(refresh?.queue as IConstruct)}.Arn}`],
        ),
        ...pairs(
          ['logs:CreateLogStream', 'logs:PutLogEvents'],
          [`\${${logicalId(refresh?.logGroup as IConstruct)}.Arn}`],
        ),
        ...pairs(['xray:PutTraceSegments', 'xray:PutTelemetryRecords'], ['*']),
      ].sort(),
    );
  });

  it('cannot write silver or bronze, and manages partitions of the gold table only (not the view, not silver)', () => {
    const pairsHeld = allowedPairs(goldStatements());
    expect(
      pairsHeld.filter((p) => /s3:(Put|Delete)/.test(p) && (p.includes(arn('silver')) || p.includes(arn('bronze')))),
    ).toEqual([]);
    expect(pairsHeld.filter((p) => p.includes(arn('bronze')) || p.includes(arn('quarantine')))).toEqual([]);
    expect(
      pairsHeld
        .filter((p) => /glue:Batch(Create|Update|Delete)Partition/.test(p) && p.includes('table/'))
        .map((p) => p.replace(/^.* on /, '')),
    ).toEqual(Array(3).fill(glue(`table/${database('gold')}/account_monthly_balance`)));
  });

  it('uses no wildcard action on data, and the only "*" resource is X-Ray’s', () => {
    expect(wildcardDataActions(goldStatements())).toEqual([]);
    const anyResource = goldStatements().filter((s) => s.effect === 'Allow' && s.resources.includes('*'));
    expect(anyResource.flatMap((s) => s.actions).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
  });
});

describe('analysts', () => {
  const analysts = () => roleStatements(template, logicalId(analystsRole()));

  it('query through the analysts workgroup and read silver and gold — exactly', () => {
    const results = arn('athenaResults');
    const workgroup = 'arn:${AWS::Partition}:athena:${AWS::Region}:${AWS::AccountId}:workgroup/medallion-prod-analysts';
    expect(allowedPairs(analysts())).toEqual(
      [
        ...pairs(ATHENA_QUERY_ACTIONS, [workgroup]),
        ...ATHENA_CONSOLE_PAIRS,
        ...pairs(['s3:GetBucketLocation'], [results, arn('silver'), arn('gold')]),
        listUnder(results, 'analysts/*'),
        listUnder(arn('silver'), 'transactions/*'),
        listUnder(arn('gold'), 'account_monthly_balance/*'),
        ...pairs(
          ['s3:GetObject', 's3:PutObject', 's3:AbortMultipartUpload', 's3:ListMultipartUploadParts'],
          [`${results}/analysts/*`],
        ),
        ...pairs(
          ['s3:GetObject', 's3:GetObjectVersion'],
          [`${arn('silver')}/transactions/*`, `${arn('gold')}/account_monthly_balance/*`],
        ),
        ...pairs(['kms:Decrypt', 'kms:GenerateDataKey'], [keyArn()]),
        ...pairs(
          [
            'glue:GetDatabase',
            'glue:GetDatabases',
            'glue:GetTable',
            'glue:GetTables',
            'glue:GetPartition',
            'glue:GetPartitions',
            'glue:BatchGetPartition',
          ],
          [
            glue('catalog'),
            glue(`database/${database('silver')}`),
            glue(`database/${database('gold')}`),
            glue(`table/${database('silver')}/transactions`),
            glue(`table/${database('gold')}/account_monthly_balance`),
            glue(`table/${database('gold')}/transactions_latest`),
          ],
        ),
      ].sort(),
    );
    expect(wildcardDataActions(analysts())).toEqual([]);
  });

  it('read no silver manifests or intent records and no gold state, and list only under table prefixes', () => {
    const held = allowedPairs(analysts());
    expect(held.filter((p) => /\/_(manifests|pending|state)\//.test(p) || /\.Arn}\/\*/.test(p))).toEqual([]);
    expect(held.filter((p) => p.startsWith('s3:ListBucket') && !p.includes(' if s3:prefix StringLike '))).toEqual([]);
  });

  it('can browse in the Athena console: list workgroups, engines and catalogs, and the databases and tables of AwsDataCatalog', () => {
    expect(allowedPairs(analysts())).toEqual(expect.arrayContaining(ATHENA_CONSOLE_PAIRS));
    const anyResource = analysts().filter((s) => s.effect === 'Allow' && s.resources.includes('*'));
    expect(anyResource.flatMap((s) => s.actions).sort()).toEqual([
      'athena:ListDataCatalogs',
      'athena:ListEngineVersions',
      'athena:ListWorkGroups',
    ]);
  });

  it.each(['bronze', 'quarantine'] as const)(
    'cannot read %s: no grant, and an explicit deny in its bucket policy',
    (zone) => {
      expect(allowedPairs(analysts()).filter((p) => p.includes(arn(zone)))).toEqual([]);
      expect(allowedPairs(analysts()).filter((p) => p.includes(database('quarantine')))).toEqual([]);
      const denies = bucketPolicyStatements(template, logicalId(stack.lake.storage.bucket(zone))).filter(
        (s) => s.effect === 'Deny' && s.principal === `\${${logicalId(analystsRole())}.Arn}`,
      );
      expect(denies).toEqual([
        expect.objectContaining({ actions: ['s3:GetObject*', 's3:List*'], resources: [arn(zone), `${arn(zone)}/*`] }),
      ]);
    },
  );

  it('is assumable only by the principals given (-c analystPrincipals), never by the account root', () => {
    const trust = template.toJSON().Resources[logicalId(analystsRole())].Properties.AssumeRolePolicyDocument
      .Statement as Record<string, unknown>[];
    expect(trust).toEqual([
      { Action: 'sts:AssumeRole', Effect: 'Allow', Principal: { AWS: ANALYST_ROLE_ARN } },
      {
        Action: 'sts:AssumeRoleWithSAML',
        Effect: 'Allow',
        Principal: { Federated: ANALYST_SAML_ARN },
        Condition: { StringEquals: { 'SAML:aud': 'https://signin.aws.amazon.com/saml' } },
      },
    ]);
  });

  it('does not exist unless principals are given: no role in the stack trusts the account root', () => {
    for (const stage of ['dev', 'prod']) {
      const { stack: plain, template: t } = synthLake({ context: { stage } });
      expect(plain.analystsRole).toBeUndefined();
      const trusts = Object.values(t.findResources('AWS::IAM::Role')).map((r) =>
        JSON.stringify(r.Properties.AssumeRolePolicyDocument),
      );
      expect(trusts.filter((d) => d.includes(':root'))).toEqual([]);
      expect(Object.keys(t.toJSON().Outputs)).not.toContain('AnalystsRoleArn');
    }
  });

  it('rejects anything but IAM role, user and SAML provider ARNs', () => {
    expect(() => synthLake({ context: { stage: 'dev', analystPrincipals: 'arn:aws:iam::111122223333:root' } })).toThrow(
      /analystPrincipals/,
    );
    expect(() => synthLake({ context: { stage: 'dev', analystPrincipals: '111122223333' } })).toThrow(
      /analystPrincipals/,
    );
  });
});

describe('producers', () => {
  const producerLake = () => {
    const lakeStack = new Stack(testApp(), 'Producers');
    const lake = new DataLake(lakeStack, 'Lake');
    const role = new iam.Role(lakeStack, 'Producer', { assumedBy: new iam.ServicePrincipal('glue.amazonaws.com') });
    return { lakeStack, lake, role };
  };

  it('grantProducerWrite: PutObject under the dataset’s bronze prefix, the key only via S3 for bronze — nothing else', () => {
    const { lakeStack, lake, role } = producerLake();
    lake.grantProducerWrite(role, 'transactions');
    const bronze = `\${${logicalId(lake.storage.bucket('bronze'))}.Arn}`;
    const key = `\${${logicalId(lake.storage.key)}.Arn}`;
    const viaS3 = `kms:ViaService StringEquals s3.\${AWS::Region}.amazonaws.com and kms:EncryptionContext:aws:s3:arn StringEquals ${bronze}`;
    expect(allowedPairs(roleStatements(Template.fromStack(lakeStack), logicalId(role)))).toEqual(
      [
        `s3:PutObject on ${bronze}/transactions/*`,
        `kms:GenerateDataKey on ${key} if ${viaS3}`,
        `kms:Decrypt on ${key} if ${viaS3}`,
      ].sort(),
    );
  });

  it('works for an imported role of the account, and refuses a principal without an identity policy', () => {
    const { lakeStack, lake } = producerLake();
    const imported = iam.Role.fromRoleArn(lakeStack, 'Imported', 'arn:aws:iam::123456789012:role/ExistingProducer');
    lake.grantProducerWrite(imported, 'transactions');
    const policies = Object.values(Template.fromStack(lakeStack).findResources('AWS::IAM::Policy')).filter(
      (p) => JSON.stringify(p.Properties.Roles) === '["ExistingProducer"]',
    );
    expect(JSON.stringify(policies)).toContain('transactions/*');
    expect(() =>
      lake.grantProducerWrite(new iam.ArnPrincipal('arn:aws:iam::444455556666:role/Producer'), 'transactions'),
    ).toThrow(/no identity policy/);
  });

  it('refuses a dataset without a contract', () => {
    const { lake, role } = producerLake();
    expect(() => lake.grantProducerWrite(role, 'nope')).toThrow(/no dataset "nope"/);
  });
});

describe('operators (grantOperations: lake replay --aws, lake dlq --aws)', () => {
  it('list bronze versions, send to the ingest queue, consume the dead-letter queue — nothing else', () => {
    const lakeStack = new Stack(testApp(), 'Operators');
    const lake = new DataLake(lakeStack, 'Lake');
    const role = new iam.Role(lakeStack, 'Operator', { assumedBy: new iam.AccountRootPrincipal() });
    lake.grantOperations(role);
    const bronze = `\${${logicalId(lake.storage.bucket('bronze'))}.Arn}`;
    const queue = `\${${logicalId(lake.ingestion.queue)}.Arn}`;
    const dlq = `\${${logicalId(lake.ingestion.deadLetterQueue)}.Arn}`;
    expect(allowedPairs(roleStatements(Template.fromStack(lakeStack), logicalId(role)))).toEqual(
      [
        `s3:ListBucketVersions on ${bronze}`,
        ...pairs(['sqs:SendMessage', 'sqs:GetQueueAttributes', 'sqs:GetQueueUrl'], [queue]),
        ...pairs(
          [
            'sqs:ReceiveMessage',
            'sqs:ChangeMessageVisibility',
            'sqs:GetQueueUrl',
            'sqs:DeleteMessage',
            'sqs:GetQueueAttributes',
          ],
          [dlq],
        ),
      ].sort(),
    );
  });
});

describe('catalog grants follow tables added later', () => {
  it('extends an earlier read grant to a gold table added after it, by exact ARN', () => {
    const lakeStack = new Stack(testApp(), 'Later');
    const lake = new DataLake(lakeStack, 'Lake');
    const role = new iam.Role(lakeStack, 'Reader', { assumedBy: new iam.AccountRootPrincipal() });
    lake.grantAnalystAccess(role);
    lake.catalog.addTable('gold', { name: 'late_table', columns: [{ name: 'x', hiveType: 'string', comment: '' }] });
    const goldDb = `\${${logicalId(lake.catalog.databases.gold)}}`;
    const held = allowedPairs(roleStatements(Template.fromStack(lakeStack), logicalId(role)));
    expect(held).toContain(
      `glue:GetTable on arn:\${AWS::Partition}:glue:\${AWS::Region}:\${AWS::AccountId}:table/${goldDb}/late_table`,
    );
    // And its files: readable, and listable under its prefix.
    const gold = `\${${logicalId(lake.storage.bucket('gold'))}.Arn}`;
    expect(held).toContain(`s3:GetObject on ${gold}/late_table/*`);
    expect(held).toContain(`s3:ListBucket on ${gold} if s3:prefix StringLike account_monthly_balance/*|late_table/*`);
  });
});
