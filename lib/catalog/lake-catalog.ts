import { Lazy, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { acknowledgeObjectPattern } from '../compliance/acknowledgments.ts';
import type { DatasetContract } from '../../engine/contract/index.ts';
import type { GoldView } from '../../engine/gold/index.ts';
import { LakeTable, validateTableSpec } from './lake-table.ts';
import { LakeView } from './lake-view.ts';
import {
  quarantineTableSpec,
  silverTableSpec,
  unknownDatasetTableSpec,
  type CatalogZone,
  type TableSpec,
} from './table-spec.ts';

export interface LakeCatalogProps {
  /** The bucket holding each catalogued zone's files. */
  readonly buckets: Record<CatalogZone, s3.IBucket>;
  /** Dataset contracts: each gets a silver table and a quarantine table (plus `quarantine.unknown_dataset` for files no contract owns). */
  readonly contracts: readonly DatasetContract[];
  /**
   * Prefix of the Glue database names: `<prefix>_silver`, `<prefix>_gold`, `<prefix>_quarantine`.
   * @default 'medallion'
   */
  readonly databaseNamePrefix?: string;
  /**
   * Gold tables to create now; more can be added with `addTable('gold', spec)`.
   * @default - none
   */
  readonly goldTables?: readonly TableSpec[];
  /**
   * Gold views (Athena views stored as Glue `VIRTUAL_VIEW` tables); more can be added with `addView(view)`.
   * @default - none
   */
  readonly goldViews?: readonly GoldView[];
  /**
   * Whether `cdk destroy` deletes the databases and tables (registered partitions go with them).
   * @default false
   */
  readonly allowDestroy?: boolean;
}

const METADATA_READ_ACTIONS = [
  'glue:GetDatabase',
  'glue:GetDatabases',
  'glue:GetTable',
  'glue:GetTables',
  'glue:GetPartition',
  'glue:GetPartitions',
  'glue:BatchGetPartition',
];
// BatchUpdatePartition: the ingest function brings old partitions to the table's columns after a contract change.
const PARTITION_WRITE_ACTIONS = [
  'glue:BatchCreatePartition',
  'glue:GetTable',
  'glue:GetPartition',
  'glue:GetPartitions',
  'glue:BatchUpdatePartition',
];
const PARTITION_MANAGE_ACTIONS = [...PARTITION_WRITE_ACTIONS, 'glue:BatchDeletePartition'];

interface TableGrant {
  readonly grantee: iam.IGrantable;
  readonly zone: CatalogZone;
  readonly actions: readonly string[];
}

/** Reading a table's files: the objects, their versions, and the bucket key that encrypts them. */
const DATA_READ_ACTIONS = ['s3:GetObject', 's3:GetObjectVersion', 'kms:Decrypt'];

/**
 * The Glue Data Catalog of the lake: a database per catalogued zone, tables generated from the dataset
 * contracts (no crawler), and grants scoped to exactly these databases and tables — including tables
 * added after the grant.
 */
/** What an `s3:prefix` condition lists for a zone without tables. */
export const NO_TABLES_PREFIX = '_no_tables_in_this_zone_/';

const nonEmpty = (values: string[], otherwise: string): string[] => (values.length > 0 ? values : [otherwise]);

export class LakeCatalog extends Construct {
  readonly databases: Record<CatalogZone, glue.Database>;
  /** Database names as plain strings (known at synth time, unlike the databases' tokens). */
  readonly databaseNames: Record<CatalogZone, string>;
  readonly catalogArn: string;
  private readonly buckets: Record<CatalogZone, s3.IBucket>;
  private readonly removalPolicy: RemovalPolicy;
  private readonly tablesByZone = new Map<CatalogZone, LakeTable[]>();
  private readonly grants: TableGrant[] = [];
  private readonly dataGrants: { readonly grantee: iam.IGrantable; readonly zone: CatalogZone }[] = [];
  private readonly views: LakeView[] = [];

  constructor(scope: Construct, id: string, props: LakeCatalogProps) {
    super(scope, id);
    const prefix = props.databaseNamePrefix ?? 'medallion';
    if (!/^[a-z][a-z0-9_]*$/.test(prefix)) throw new Error(`databaseNamePrefix "${prefix}" must be lower snake_case`);
    this.buckets = props.buckets;
    this.removalPolicy = props.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN;
    this.catalogArn = Stack.of(this).formatArn({ service: 'glue', resource: 'catalog' });

    this.databaseNames = { silver: `${prefix}_silver`, gold: `${prefix}_gold`, quarantine: `${prefix}_quarantine` };
    const database = (zone: CatalogZone, description: string): glue.Database =>
      new glue.Database(this, `${capitalize(zone)}Database`, {
        databaseName: this.databaseNames[zone],
        description,
        removalPolicy: this.removalPolicy,
      });
    this.databases = {
      silver: database('silver', 'Validated, typed datasets, one table per dataset contract'),
      gold: database('gold', 'Analyst-facing aggregates and curated tables'),
      quarantine: database('quarantine', 'Rejected records and files per dataset, with reasons'),
    };

    for (const contract of props.contracts) {
      this.addTable('silver', silverTableSpec(contract));
      this.addTable('quarantine', quarantineTableSpec(contract));
    }
    // Files nobody owns are quarantined too; analysts find them in Athena like any other rejection.
    this.addTable('quarantine', unknownDatasetTableSpec());
    for (const spec of props.goldTables ?? []) this.addTable('gold', spec);
    for (const view of props.goldViews ?? []) this.addView(view);
  }

  /** Adds an Athena view to the gold database; its SQL's database qualifiers become this stage's names. */
  addView(view: GoldView): LakeView {
    if (
      this.tables('gold').some((t) => t.tableName === view.name) ||
      this.views.some((v) => v.viewName === view.name)
    ) {
      throw new Error(`gold already has a table or view named ${view.name}`);
    }
    const created = new LakeView(this, `GoldView${pascal(view.name)}`, {
      database: this.databases.gold,
      view,
      databaseNames: this.databaseNames,
      removalPolicy: this.removalPolicy,
    });
    this.views.push(created);
    for (const grant of this.grants.filter((g) => g.zone === 'gold')) {
      iam.Grant.addToPrincipal({
        grantee: grant.grantee,
        actions: [...grant.actions],
        resourceArns: [created.tableArn],
      });
    }
    return created;
  }

  /** The bucket holding a catalogued zone's files. */
  bucket(zone: CatalogZone): s3.IBucket {
    return this.buckets[zone];
  }

  /** Tables of a zone, in the order they were added. */
  tables(zone: CatalogZone): readonly LakeTable[] {
    return this.tablesByZone.get(zone) ?? [];
  }

  table(zone: CatalogZone, name: string): LakeTable | undefined {
    return this.tables(zone).find((t) => t.tableName === name);
  }

  /** Adds a table to a zone's database. Grants already made on the zone extend to it. */
  addTable(zone: CatalogZone, spec: TableSpec): LakeTable {
    const existing = this.tables(zone);
    if (existing.some((t) => t.tableName === spec.name))
      throw new Error(`${zone} already has a table named ${spec.name}`);
    const prefix = validateTableSpec(spec);
    const overlapping = existing.find(
      (t) => t.locationPrefix.startsWith(prefix) || prefix.startsWith(t.locationPrefix),
    );
    if (overlapping)
      throw new Error(
        `prefix ${prefix} of ${zone}.${spec.name} overlaps ${overlapping.locationPrefix} of ${zone}.${overlapping.tableName}`,
      );
    const table = new LakeTable(this, `${capitalize(zone)}${pascal(spec.name)}Table`, {
      database: this.databases[zone],
      bucket: this.buckets[zone],
      spec,
      removalPolicy: this.removalPolicy,
    });
    this.tablesByZone.set(zone, [...existing, table]);
    for (const grant of this.grants.filter((g) => g.zone === zone)) {
      iam.Grant.addToPrincipal({ grantee: grant.grantee, actions: [...grant.actions], resourceArns: [table.tableArn] });
    }
    for (const grant of this.dataGrants.filter((g) => g.zone === zone)) this.grantTableFiles(grant.grantee, table);
    return table;
  }

  /**
   * Lets the grantee read the files of a zone's tables — those added later too — and list the bucket only under
   * their prefixes (`s3:prefix`), which is what Athena does as the caller. Nothing else in the bucket: not
   * silver's `_manifests/` and `_pending/`, not gold's `_state/`. The Glue side is `grantRead`.
   */
  grantReadTableData(grantee: iam.IGrantable, zone: CatalogZone): iam.Grant {
    this.dataGrants.push({ grantee, zone });
    const bucket = this.buckets[zone];
    let grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:GetBucketLocation'],
      resourceArns: [bucket.bucketArn],
    }).combine(
      iam.Grant.addToPrincipal({
        grantee,
        actions: ['s3:ListBucket'],
        resourceArns: [bucket.bucketArn],
        // A zone with no tables (e.g. no gold for these contracts) must not render `"s3:prefix": []` (invalid
        // IAM); a prefix no table has keeps the statement valid and lists nothing.
        conditions: {
          StringLike: {
            's3:prefix': Lazy.list({
              produce: () =>
                nonEmpty(
                  this.tables(zone).map((t) => `${t.locationPrefix}*`),
                  NO_TABLES_PREFIX,
                ),
            }),
          },
        },
      }),
    );
    for (const table of this.tables(zone)) grant = grant.combine(this.grantTableFiles(grantee, table));
    return grant;
  }

  private grantTableFiles(grantee: iam.IGrantable, table: LakeTable): iam.Grant {
    const pattern = `${table.locationPrefix}*`;
    acknowledgeObjectPattern(grantee, table.bucket, pattern);
    return s3.BucketGrants.fromBucket(table.bucket).actionsOnObjectKeys(grantee, pattern, ...DATA_READ_ACTIONS);
  }

  /** Lets the grantee read the definitions and partitions of a zone's database and tables (what Athena needs). */
  grantRead(grantee: iam.IGrantable, zone: CatalogZone): iam.Grant {
    return this.grantOnTables(grantee, zone, METADATA_READ_ACTIONS);
  }

  /** Lets the grantee register partitions on a zone's tables — and on nothing else. */
  grantAddPartitions(grantee: iam.IGrantable, zone: CatalogZone): iam.Grant {
    return this.grantOnTables(grantee, zone, PARTITION_WRITE_ACTIONS);
  }

  /** Lets the grantee create, repoint and delete the partitions of one table (a gold refresh) — and of no other. */
  grantManagePartitions(grantee: iam.IGrantable, zone: CatalogZone, tableName: string): iam.Grant {
    const table = this.table(zone, tableName);
    if (!table) throw new Error(`no ${zone} table ${tableName} in the catalog`);
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...PARTITION_MANAGE_ACTIONS],
      resourceArns: [this.catalogArn, this.databases[zone].databaseArn, table.tableArn],
    });
  }

  private grantOnTables(grantee: iam.IGrantable, zone: CatalogZone, actions: readonly string[]): iam.Grant {
    this.grants.push({ grantee, zone, actions });
    return iam.Grant.addToPrincipal({
      grantee,
      actions: [...actions],
      resourceArns: [
        this.catalogArn,
        this.databases[zone].databaseArn,
        ...this.tables(zone).map((t) => t.tableArn),
        ...(zone === 'gold' ? this.views.map((v) => v.tableArn) : []),
      ],
    });
  }
}

function capitalize(text: string): string {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function pascal(snake: string): string {
  return snake.split('_').map(capitalize).join('');
}
