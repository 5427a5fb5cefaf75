import { RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import type * as kms from 'aws-cdk-lib/aws-kms';
import { resolve } from 'node:path';
import { type ContractRegistry, loadContracts } from '../engine/contract/index.ts';
import { type GoldView } from '../engine/gold/index.ts';
import { LakeCatalog } from './catalog/lake-catalog.ts';
import { LakeFormationGovernance, type LakeFormationOptions } from './governance/lake-formation.ts';
import { ProducerFeedback } from './governance/producer-feedback.ts';
import { LakeGoldRefresh, type LakeGoldRefreshProps } from './gold/lake-gold-refresh.ts';
import type { TableSpec } from './catalog/table-spec.ts';
import { LakeFanOut, type LakeFanOutProps } from './fan-out/lake-fan-out.ts';
import { LakeIngestion, type LakeIngestionProps } from './ingestion/lake-ingestion.ts';
import { LakeCompaction, type LakeCompactionProps } from './maintenance/lake-compaction.ts';
import { LakeMonitoring, type LakeMonitoringProps } from './monitoring/lake-monitoring.ts';
import { readAnalystQueries } from './query/analyst-sql.ts';
import { LakeQuery } from './query/lake-query.ts';
import { LakeStorage } from './storage/lake-storage.ts';
import type { LakeRetention } from './storage/retention.ts';
import { ACCOUNT_MONTHLY_BALANCE, GOLD_TABLES, GOLD_VIEWS } from '../datasets/index.ts';

const REPO_ROOT = resolve(import.meta.dirname, '..');

/** Ingestion settings a lake may tune; wiring (buckets, catalog, contracts) is the lake's job. */
export type IngestionOptions = Omit<
  LakeIngestionProps,
  'storage' | 'catalog' | 'contractsDir' | 'contracts' | 'namePrefix' | 'allowDestroy'
>;

/** Fan-out settings a lake may tune. */
export type FanOutOptions = Omit<LakeFanOutProps, 'storage' | 'ingestFunction' | 'namePrefix' | 'allowDestroy'>;

/** Gold-refresh settings a lake may tune. */
export type GoldRefreshOptions = Omit<
  LakeGoldRefreshProps,
  'storage' | 'catalog' | 'query' | 'namePrefix' | 'allowDestroy' | 'alarmTopic'
>;

/** Scheduled-compaction settings a lake may tune. */
export type CompactionOptions = Omit<
  LakeCompactionProps,
  'storage' | 'catalog' | 'contractsDir' | 'namePrefix' | 'allowDestroy' | 'alarmTopic'
>;

/** Monitoring settings a lake may tune. */
export type MonitoringOptions = Omit<
  LakeMonitoringProps,
  'ingestion' | 'datasets' | 'encryptionKey' | 'namePrefix' | 'workgroupNames'
>;

export interface DataLakeProps {
  /**
   * Prefix of physical names: workgroups, alarms, dashboard, key alias, log group, and (with `-` as `_`)
   * the Glue databases. Lower case letters, digits and `-`.
   * @default 'medallion'
   */
  readonly namePrefix?: string;
  /**
   * Directory of the dataset contracts (`*.json`). Drives the Glue tables and is bundled into the function.
   * @default - contracts/ of this repository
   */
  readonly contractsDir?: string;
  /**
   * Directory of analyst SQL (`*.sql`), deployed as Athena named queries. A missing or empty directory is fine.
   * @default - queries/ of this repository
   */
  readonly queriesDir?: string;
  /**
   * What `cdk destroy` (or removing the lake from the app) does with its data — buckets with their objects, the
   * key, databases, workgroups, logs: `RemovalPolicy.DESTROY` deletes them (dev), `RETAIN` keeps them.
   * `SNAPSHOT` and `RETAIN_ON_UPDATE_OR_DELETE` are refused (none of these resources can be snapshotted, and
   * retention must not depend on the kind of change).
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * @deprecated use `removalPolicy: RemovalPolicy.DESTROY`; `true` means exactly that. Giving both is refused.
   * @default false
   */
  readonly allowDestroy?: boolean;
  /**
   * Lifecycle of each zone.
   * @default - see `DEFAULT_RETENTION`
   */
  readonly retention?: LakeRetention;
  /**
   * Bring your own KMS key for every zone, query results, logs and alarm notifications (see
   * `LakeStorageProps.encryptionKey`: an imported key's policy must already let the lake's services use it).
   * @default - a new customer-managed key, rotated yearly
   */
  readonly encryptionKey?: kms.IKey;
  /**
   * Object Lock (WORM) on bronze: the default retention of every new object version (see
   * `LakeStorageProps.bronzeObjectLock`). Excludes `allowDestroy`. The `prod` stage turns it on.
   * @default - no Object Lock
   */
  readonly bronzeObjectLock?: s3.ObjectLockRetention;
  /**
   * Gold tables to create now; more can be added later with `catalog.addTable('gold', spec)`.
   * @default GOLD_TABLES (datasets/) whose source dataset has a contract: the monthly per-account balance table
   */
  readonly goldTables?: readonly TableSpec[];
  /**
   * Gold views (Athena views in Glue); more can be added later with `catalog.addView(view)`.
   * @default GOLD_VIEWS (datasets/) whose source dataset has a contract: deduplicated transactions
   */
  readonly goldViews?: readonly GoldView[];
  /**
   * Per-query scan cutoff of the analysts workgroup, in bytes.
   * @default 10 GiB
   */
  readonly analystsScanCutoffBytes?: number;
  /**
   * Per-query scan cutoff of the platform workgroup, in bytes.
   * @default 100 GiB
   */
  readonly platformScanCutoffBytes?: number;
  /**
   * Tuning of the ingest function and its queue.
   * @default - see `LakeIngestionProps`
   */
  readonly ingestion?: IngestionOptions;
  /**
   * Objects too large for one invocation of the ingest function, fanned out by a Step Functions state machine
   * (plan → chunks in parallel → commit), or `false` for none (every object is ingested in one invocation).
   * @default - on, with the defaults of `LakeFanOutProps`
   */
  readonly fanOut?: FanOutOptions | false;
  /**
   * The gold refresh on AWS (silver manifests → Athena UNLOAD → repointed Glue partitions), or `false` for
   * none: gold then stays as it is until refreshed by other means.
   * @default - on, with the defaults of `LakeGoldRefreshProps`, when the gold table is in the catalog
   */
  readonly goldRefresh?: GoldRefreshOptions | false;
  /**
   * Scheduled compaction of silver (the same use case as `lake compact --aws`, run by a function on an
   * EventBridge schedule, under each dataset's maintenance lease). Opt-in: `{}` runs it on the 3rd of each
   * month at 02:00 UTC; `{ schedule: events.Schedule.rate(Duration.days(1)) }` daily.
   * @default - no scheduled compaction (run `lake compact --aws` by hand)
   */
  readonly compaction?: CompactionOptions;
  /**
   * Alarm routing and thresholds.
   * @default - see `LakeMonitoringProps`
   */
  readonly monitoring?: MonitoringOptions;
  /**
   * Lake Formation over the catalog: administrators added, the silver, gold and quarantine locations
   * registered (hybrid access mode by default), and the lake's roles — ingest, gold refresh, and every
   * principal given `grantAnalystAccess`/`grantPlatformAccess` — granted their database and table
   * permissions through Lake Formation as well as IAM. For accounts where Lake Formation governs the catalog.
   * @default - no Lake Formation resources; access is IAM only
   */
  readonly lakeFormation?: LakeFormationOptions;
  /**
   * One SNS topic per contract `owner`, fed by an EventBridge rule with that owner's datasets' ingest events
   * (`Ingest Completed` / `Ingest Rejected`); `{ ownerEmails }` subscribes addresses per owner. Needs
   * `ingestion.publishEvents` (on by default).
   * @default false - events are published on the default bus; owners subscribe with their own rules
   */
  readonly ownerTopics?: boolean | { readonly ownerEmails?: Readonly<Record<string, readonly string[]>> };
}

/**
 * A serverless medallion data lake: zone buckets, the Glue catalog generated from the dataset contracts,
 * Athena workgroups, event-driven ingestion into silver and quarantine, and its alarms.
 *
 * @example
 * const lake = new DataLake(stack, 'Lake', {
 *   namePrefix: 'sales',
 *   contractsDir: 'contracts',
 *   removalPolicy: RemovalPolicy.RETAIN,
 *   monitoring: { alarmEmails: ['data-platform@example.com'] },
 * });
 * lake.grantProducerWrite(producerRole, 'transactions');
 */
export class DataLake extends Construct {
  readonly contracts: ContractRegistry;
  readonly storage: LakeStorage;
  readonly catalog: LakeCatalog;
  readonly query: LakeQuery;
  readonly ingestion: LakeIngestion;
  /** Undefined when `fanOut` is `false`. */
  readonly fanOut?: LakeFanOut;
  readonly monitoring: LakeMonitoring;
  /** Undefined when `goldRefresh` is `false` or the lake has no table to refresh. */
  readonly goldRefresh?: LakeGoldRefresh;
  /** Undefined unless `compaction` is set. */
  readonly compaction?: LakeCompaction;
  /** Undefined unless `lakeFormation` is given. */
  readonly lakeFormation?: LakeFormationGovernance;
  /** The owner topics; undefined unless `ownerTopics` is set. */
  readonly producerFeedback?: ProducerFeedback;

  constructor(scope: Construct, id: string, props: DataLakeProps = {}) {
    super(scope, id);
    const namePrefix = props.namePrefix ?? 'medallion';
    if (!/^[a-z][a-z0-9-]*$/.test(namePrefix))
      throw new Error(`namePrefix "${namePrefix}" must be lower case letters, digits and "-"`);
    const allowDestroy = destroysData(props);
    const contractsDir = props.contractsDir ?? resolve(REPO_ROOT, 'contracts');
    this.contracts = loadContracts(contractsDir);

    this.storage = new LakeStorage(this, 'Storage', {
      namePrefix,
      retention: props.retention,
      bronzeObjectLock: props.bronzeObjectLock,
      allowDestroy,
      encryptionKey: props.encryptionKey,
    });
    this.catalog = new LakeCatalog(this, 'Catalog', {
      databaseNamePrefix: namePrefix.replaceAll('-', '_'),
      buckets: {
        silver: this.storage.bucket('silver'),
        gold: this.storage.bucket('gold'),
        quarantine: this.storage.bucket('quarantine'),
      },
      contracts: this.contracts.contracts,
      // The analyst layer's gold objects exist only where the lake has the dataset they are built from.
      goldTables: props.goldTables ?? GOLD_TABLES.filter((t) => this.contracts.get(t.sourceDataset)),
      goldViews: props.goldViews ?? GOLD_VIEWS.filter((v) => this.contracts.get(v.sourceDataset)),
      allowDestroy,
    });
    if (props.lakeFormation)
      this.lakeFormation = new LakeFormationGovernance(this, 'LakeFormation', {
        ...props.lakeFormation,
        catalog: this.catalog,
        encryptionKey: this.storage.key,
      });
    this.query = new LakeQuery(this, 'Query', {
      namePrefix,
      resultsBucket: this.storage.bucket('athenaResults'),
      encryptionKey: this.storage.key,
      databaseNames: this.catalog.databaseNames,
      analystsScanCutoffBytes: props.analystsScanCutoffBytes,
      platformScanCutoffBytes: props.platformScanCutoffBytes,
      queries: readAnalystQueries(props.queriesDir ?? resolve(REPO_ROOT, 'queries')),
      allowDestroy,
    });
    this.ingestion = new LakeIngestion(this, 'Ingestion', {
      ...props.ingestion,
      storage: this.storage,
      catalog: this.catalog,
      contractsDir,
      contracts: this.contracts,
      namePrefix,
      allowDestroy,
    });
    if (props.fanOut !== false) {
      this.fanOut = new LakeFanOut(this, 'FanOut', {
        ...props.fanOut,
        storage: this.storage,
        ingestFunction: this.ingestion.function,
        namePrefix,
        allowDestroy,
      });
      this.fanOut.routeLargeObjects(this.ingestion.function, this.storage);
    }
    if (props.ownerTopics) {
      if (!this.ingestion.eventBus)
        throw new Error('ownerTopics needs ingest events: do not set ingestion.publishEvents to false');
      this.producerFeedback = new ProducerFeedback(this, 'ProducerFeedback', {
        eventBus: this.ingestion.eventBus,
        contracts: this.contracts.contracts,
        encryptionKey: this.storage.key,
        namePrefix,
        ownerEmails: props.ownerTopics === true ? undefined : props.ownerTopics.ownerEmails,
      });
    }
    this.monitoring = new LakeMonitoring(this, 'Monitoring', {
      ...props.monitoring,
      ingestion: this.ingestion,
      datasets: this.contracts.names(),
      encryptionKey: this.storage.key,
      namePrefix,
      workgroupNames: [this.query.workgroupName('analysts'), this.query.workgroupName('platform')],
    });
    if (this.fanOut) this.monitoring.monitorFanOut(this.fanOut, namePrefix);
    const goldTable = props.goldRefresh === false ? undefined : (props.goldRefresh?.table ?? ACCOUNT_MONTHLY_BALANCE);
    if (props.goldRefresh !== false && goldTable && this.catalog.table('gold', goldTable.name)) {
      this.goldRefresh = new LakeGoldRefresh(this, 'GoldRefresh', {
        ...props.goldRefresh,
        storage: this.storage,
        catalog: this.catalog,
        query: this.query,
        namePrefix,
        allowDestroy,
      });
      for (const alarm of this.goldRefresh.alarms) this.monitoring.addAlarm(alarm);
    }
    if (props.compaction) {
      this.compaction = new LakeCompaction(this, 'Compaction', {
        ...props.compaction,
        storage: this.storage,
        catalog: this.catalog,
        contractsDir,
        namePrefix,
        allowDestroy,
      });
      for (const alarm of this.compaction.alarms) this.monitoring.addAlarm(alarm);
    }
    this.grantLakeFormationToFunctions(goldTable?.name);
  }

  /**
   * Analyst access: queries through the analysts workgroup (and the Athena console's listing of workgroups and
   * catalog), reads the files and catalog entries of the silver and gold tables (not silver's `_manifests/` and
   * `_pending/`, not gold's `_state/`; listing only under table prefixes), and is explicitly denied bronze and
   * quarantine in their bucket policies.
   */
  grantAnalystAccess(grantee: iam.IGrantable): iam.Grant {
    for (const zone of ['bronze', 'quarantine'] as const) this.storage.denyRead(grantee.grantPrincipal, zone);
    for (const zone of ['silver', 'gold'] as const)
      this.lakeFormation?.grantTables(grantee.grantPrincipal, zone, ['SELECT', 'DESCRIBE']);
    return this.query
      .grantQuery(grantee, 'analysts')
      .combine(this.query.grantConsoleBrowse(grantee))
      .combine(this.catalog.grantReadTableData(grantee, 'silver'))
      .combine(this.catalog.grantReadTableData(grantee, 'gold'))
      .combine(this.catalog.grantRead(grantee, 'silver'))
      .combine(this.catalog.grantRead(grantee, 'gold'));
  }

  /**
   * Producer access for one dataset: upload new files under its bronze prefix (the contract's `bronzePrefix`)
   * with `s3:PutObject` — nothing else: no read, no list, no delete (an overwrite only adds a version), no other
   * prefix; the lake key only through S3 for bronze. Incomplete multipart uploads are aborted by lifecycle.
   */
  grantProducerWrite(grantee: iam.IGrantable, dataset: string): iam.Grant {
    const contract = this.contracts.get(dataset);
    if (!contract)
      throw new Error(
        `no dataset ${JSON.stringify(dataset)}: producers can be granted one of ${this.contracts.names().join(', ')}`,
      );
    return this.storage.grantPut(grantee, 'bronze', `${contract.bronzePrefix}*`);
  }

  /**
   * Operator access: what `lake replay --aws` and `lake dlq status|redrive --aws` do — list the versions of bronze
   * objects (`s3:ListBucketVersions`: keys, versions and sizes, not their content), send object events to the
   * ingest queue, and read, move back and delete dead-lettered messages. No object read or write in any zone,
   * nothing of the gold-refresh queues. The stack outputs come from `--outputs-file` or the operator's own
   * `cloudformation:DescribeStacks`.
   */
  grantOperations(grantee: iam.IGrantable): iam.Grant {
    const bronze = this.storage.bucket('bronze');
    return iam.Grant.addToPrincipal({ grantee, actions: ['s3:ListBucketVersions'], resourceArns: [bronze.bucketArn] })
      .combine(this.ingestion.queue.grantSendMessages(grantee))
      .combine(this.ingestion.deadLetterQueue.grantConsumeMessages(grantee));
  }

  /** Platform access: queries through the platform workgroup and reads every zone, quarantine included. */
  grantPlatformAccess(grantee: iam.IGrantable): iam.Grant {
    let grant = this.query.grantQuery(grantee, 'platform').combine(this.query.grantConsoleBrowse(grantee));
    for (const zone of ['bronze', 'silver', 'gold', 'quarantine'] as const)
      grant = grant.combine(this.storage.grantRead(grantee, zone));
    for (const zone of ['silver', 'gold', 'quarantine'] as const) {
      grant = grant.combine(this.catalog.grantRead(grantee, zone));
      this.lakeFormation?.grantTables(grantee.grantPrincipal, zone, ['SELECT', 'DESCRIBE']);
    }
    return grant;
  }

  /** The functions' catalog work through Lake Formation: what their IAM catalog grants allow, table by table. */
  private grantLakeFormationToFunctions(goldTableName: string | undefined): void {
    const lf = this.lakeFormation;
    if (!lf) return;
    const silverTables = this.catalog.tables('silver').map((t) => t.tableName);
    // Ingest: registers partitions (INSERT) on the silver tables, pointing into the silver location.
    const ingest = this.ingestion.function.grantPrincipal;
    lf.grantTables(ingest, 'silver', ['INSERT', 'DESCRIBE'], silverTables);
    lf.grantDataLocation(ingest, 'silver');
    const refresh = this.goldRefresh;
    if (!refresh || !goldTableName) return;
    // Gold refresh: Athena reads the source table as the function; it creates, repoints and drops the gold
    // table's partitions, which point into the gold location.
    const fn = refresh.function.grantPrincipal;
    const source = this.catalog.tables('silver').find((t) => t.tableName === refresh.sourceDataset);
    lf.grantTables(fn, 'silver', ['SELECT', 'DESCRIBE'], source ? [source.tableName] : []);
    lf.grantTables(fn, 'gold', ['SELECT', 'INSERT', 'DELETE', 'ALTER', 'DESCRIBE'], [goldTableName]);
    lf.grantDataLocation(fn, 'gold');
  }
}

/** Whether the lake's data goes with the stack, from `removalPolicy` (or the deprecated `allowDestroy`). */
function destroysData(props: DataLakeProps): boolean {
  if (props.removalPolicy !== undefined && props.allowDestroy !== undefined) {
    throw new Error('give removalPolicy or the deprecated allowDestroy, not both');
  }
  if (props.removalPolicy === undefined) return props.allowDestroy ?? false;
  if (props.removalPolicy !== RemovalPolicy.DESTROY && props.removalPolicy !== RemovalPolicy.RETAIN) {
    throw new Error(`removalPolicy must be RemovalPolicy.DESTROY or RemovalPolicy.RETAIN (got ${props.removalPolicy})`);
  }
  return props.removalPolicy === RemovalPolicy.DESTROY;
}
