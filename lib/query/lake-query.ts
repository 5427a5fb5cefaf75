import { Aws, Stack } from 'aws-cdk-lib';
import * as athena from 'aws-cdk-lib/aws-athena';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledge, acknowledgeObjectPattern } from '../compliance/acknowledgments.ts';
import type { CatalogZone } from '../catalog/table-spec.ts';
import { qualifyDatabases } from '../../engine/gold/index.ts';
import type { AnalystQuery } from './analyst-sql.ts';

/** The lake's Athena workgroups. */
export type WorkgroupKind = 'analysts' | 'platform';

export const ATHENA_ENGINE_VERSION = 'Athena engine version 3';
const GIB = 1024 ** 3;

export interface LakeQueryProps {
  /** Where query results go, one prefix per workgroup. */
  readonly resultsBucket: s3.IBucket;
  /** The key that encrypts query results. */
  readonly encryptionKey: kms.IKey;
  /** The stage's Glue database per zone; analyst SQL is rewritten to them. */
  readonly databaseNames: Readonly<Record<CatalogZone, string>>;
  /**
   * Prefix of the workgroup names: `<prefix>-analysts`, `<prefix>-platform`.
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * Per-query scan cutoff of the analysts workgroup, in bytes (Athena's minimum is 10 MB).
   * @default 10 GiB
   */
  readonly analystsScanCutoffBytes?: number;
  /**
   * Per-query scan cutoff of the platform workgroup, in bytes.
   * @default 100 GiB
   */
  readonly platformScanCutoffBytes?: number;
  /**
   * Analyst SQL deployed as named queries, with `silver.`/`gold.`/`quarantine.` rewritten to the stage's
   * databases: in the analysts workgroup, or the platform workgroup when they read quarantine.
   * @default - none
   */
  readonly queries?: readonly AnalystQuery[];
  /**
   * Whether `cdk destroy` may delete the workgroups together with their saved queries and history.
   * @default false
   */
  readonly allowDestroy?: boolean;
}

const QUERY_ACTIONS = [
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

/** Listing actions the Athena console calls to show its workgroup, engine and catalog pickers; IAM scopes them to no resource. */
const CONSOLE_LIST_ACTIONS = ['athena:ListWorkGroups', 'athena:ListEngineVersions', 'athena:ListDataCatalogs'];
/** Browsing the Glue catalog through Athena (databases and tables panel), on the account's `AwsDataCatalog` only. */
const CONSOLE_CATALOG_ACTIONS = [
  'athena:GetDataCatalog',
  'athena:ListDatabases',
  'athena:GetDatabase',
  'athena:ListTableMetadata',
  'athena:GetTableMetadata',
];

/** Analysts cannot read quarantine, so queries over it go where the platform team can run them. */
export function workgroupFor(query: AnalystQuery): WorkgroupKind {
  const marker = '__quarantine_database__';
  return qualifyDatabases(query.sql, { silver: 'silver', gold: 'gold', quarantine: marker }).includes(marker)
    ? 'platform'
    : 'analysts';
}

const RESULTS_OBJECT_ACTIONS = [
  's3:GetObject',
  's3:PutObject',
  's3:AbortMultipartUpload',
  's3:ListMultipartUploadParts',
];

/**
 * Athena workgroups with enforced settings: engine v3 pinned, results encrypted with the lake key in the
 * results bucket, a per-query scan cutoff and CloudWatch metrics. Analyst SQL ships as named queries.
 */
export class LakeQuery extends Construct {
  readonly workgroups: Record<WorkgroupKind, athena.CfnWorkGroup>;
  readonly namedQueries: readonly athena.CfnNamedQuery[];
  private readonly resultsBucket: s3.IBucket;
  private readonly encryptionKey: kms.IKey;

  constructor(scope: Construct, id: string, props: LakeQueryProps) {
    super(scope, id);
    const prefix = props.namePrefix ?? 'medallion';
    this.resultsBucket = props.resultsBucket;
    this.encryptionKey = props.encryptionKey;

    const workgroup = (kind: WorkgroupKind, description: string, cutoff: number): athena.CfnWorkGroup => {
      if (!Number.isInteger(cutoff) || cutoff < 10_000_000)
        throw new Error(`${kind} scan cutoff must be a whole number of at least 10 MB (got ${cutoff})`);
      return new athena.CfnWorkGroup(this, `${kind === 'analysts' ? 'Analysts' : 'Platform'}Workgroup`, {
        name: `${prefix}-${kind}`,
        description,
        state: 'ENABLED',
        recursiveDeleteOption: props.allowDestroy ?? false,
        workGroupConfiguration: {
          enforceWorkGroupConfiguration: true,
          engineVersion: { selectedEngineVersion: ATHENA_ENGINE_VERSION },
          bytesScannedCutoffPerQuery: cutoff,
          publishCloudWatchMetricsEnabled: true,
          requesterPaysEnabled: false,
          resultConfiguration: {
            outputLocation: props.resultsBucket.s3UrlForObject(`${kind}/`),
            encryptionConfiguration: { encryptionOption: 'SSE_KMS', kmsKey: props.encryptionKey.keyArn },
            expectedBucketOwner: Aws.ACCOUNT_ID,
          },
        },
      });
    };
    this.workgroups = {
      analysts: workgroup(
        'analysts',
        'Analyst queries over silver and gold',
        props.analystsScanCutoffBytes ?? 10 * GIB,
      ),
      platform: workgroup(
        'platform',
        'Platform team: operations, backfills and quarantine triage',
        props.platformScanCutoffBytes ?? 100 * GIB,
      ),
    };

    this.namedQueries = (props.queries ?? []).map(
      (query) =>
        new athena.CfnNamedQuery(this, `Query-${query.name}`, {
          name: query.name,
          description: query.description,
          database: props.databaseNames.silver,
          workGroup: this.workgroups[workgroupFor(query)],
          queryString: qualifyDatabases(query.sql, props.databaseNames),
        }),
    );
  }

  workgroupName(kind: WorkgroupKind): string {
    return this.workgroups[kind].name;
  }

  workgroupArn(kind: WorkgroupKind): string {
    return Stack.of(this).formatArn({
      service: 'athena',
      resource: 'workgroup',
      resourceName: this.workgroupName(kind),
    });
  }

  /**
   * Lets the grantee use the Athena console: list workgroups, engine versions and data catalogs (actions IAM
   * allows only on `*`), and browse the `AwsDataCatalog` (what it shows is still limited by the grantee's
   * Glue permissions on databases and tables).
   */
  grantConsoleBrowse(grantee: iam.IGrantable): iam.Grant {
    const principal = grantee.grantPrincipal;
    if (Construct.isConstruct(principal)) {
      acknowledge(principal, {
        'AwsSolutions-IAM5[Resource::*]': `Only ${CONSOLE_LIST_ACTIONS.join(', ')}: list actions the Athena console needs, which support no resource-level permissions.`,
      });
    }
    const dataCatalog = Stack.of(this).formatArn({
      service: 'athena',
      resource: 'datacatalog',
      resourceName: 'AwsDataCatalog',
    });
    return iam.Grant.addToPrincipal({ grantee, actions: CONSOLE_LIST_ACTIONS, resourceArns: ['*'] }).combine(
      iam.Grant.addToPrincipal({ grantee, actions: CONSOLE_CATALOG_ACTIONS, resourceArns: [dataCatalog] }),
    );
  }

  /**
   * Lets the grantee run and read queries in one workgroup, and read and write that workgroup's results.
   * Access to the data queried is granted separately (storage and catalog grants).
   */
  grantQuery(grantee: iam.IGrantable, kind: WorkgroupKind): iam.Grant {
    const resultsPrefix = `${kind}/*`;
    acknowledgeObjectPattern(grantee, this.resultsBucket, resultsPrefix);
    return (
      iam.Grant.addToPrincipal({ grantee, actions: QUERY_ACTIONS, resourceArns: [this.workgroupArn(kind)] })
        .combine(
          iam.Grant.addToPrincipal({
            grantee,
            actions: ['s3:GetBucketLocation'],
            resourceArns: [this.resultsBucket.bucketArn],
          }),
        )
        // Listing only the workgroup's own results.
        .combine(
          iam.Grant.addToPrincipal({
            grantee,
            actions: ['s3:ListBucket'],
            resourceArns: [this.resultsBucket.bucketArn],
            conditions: { StringLike: { 's3:prefix': [resultsPrefix] } },
          }),
        )
        .combine(
          iam.Grant.addToPrincipal({
            grantee,
            actions: RESULTS_OBJECT_ACTIONS,
            resourceArns: [this.resultsBucket.arnForObjects(resultsPrefix)],
          }),
        )
        .combine(kms.KeyGrants.fromKey(this.encryptionKey).actions(grantee, 'kms:Decrypt', 'kms:GenerateDataKey'))
    );
  }
}
