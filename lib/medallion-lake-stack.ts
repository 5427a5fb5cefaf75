import { CfnOutput, RemovalPolicy, Stack, Tags, type StackProps } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as sns from 'aws-cdk-lib/aws-sns';
import type { Construct } from 'constructs';
import { acknowledgeInlinePolicies } from './compliance/acknowledgments.ts';
import type { StageConfig } from './config/stages.ts';
import { DataLake, type DataLakeProps } from './data-lake.ts';
import { STACK_OUTPUT } from '../wiring/names.ts';

export interface MedallionLakeStackProps extends StackProps {
  readonly stage: StageConfig;
  /**
   * Overrides of the lake's props (tests, or an app with its own contracts and queries).
   * @default - the stage's settings only
   */
  readonly lake?: Partial<DataLakeProps>;
  /**
   * Principals allowed to assume `AnalystsRole` (IAM roles, users, `SamlConsolePrincipal`s…). Never the
   * account root: that would let anyone in the account allowed `sts:AssumeRole` on `*` become an analyst.
   * @default - the stage's `analystPrincipalArns`; none means no `AnalystsRole` is created
   */
  readonly analystPrincipals?: readonly iam.IPrincipal[];
}

/** One stage of the lake: the `DataLake` plus the analysts role and the outputs tools and tests read. */
export class MedallionLakeStack extends Stack {
  readonly lake: DataLake;
  /** The role analysts assume; undefined when no principal may assume it. */
  readonly analystsRole?: iam.Role;

  constructor(scope: Construct, id: string, props: MedallionLakeStackProps) {
    const { stage } = props;
    super(scope, id, {
      description: `Medallion data lake (${stage.stageName})`,
      terminationProtection: !stage.allowDestroy,
      ...props,
    });
    Tags.of(this).add('project', 'medallion-lake');
    Tags.of(this).add('stage', stage.stageName);

    this.lake = new DataLake(this, 'Lake', {
      namePrefix: stage.namePrefix,
      removalPolicy: stage.allowDestroy ? RemovalPolicy.DESTROY : RemovalPolicy.RETAIN,
      retention: stage.retention,
      bronzeObjectLock: stage.bronzeObjectLock,
      analystsScanCutoffBytes: stage.scanCutoffBytes.analysts,
      platformScanCutoffBytes: stage.scanCutoffBytes.platform,
      ingestion: stage.ingestion,
      lakeFormation: stage.lakeFormationAdmins?.length ? { admins: stage.lakeFormationAdmins } : undefined,
      monitoring: {
        alarmEmails: stage.alarmEmails,
        alarmTopic: stage.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', stage.alarmTopicArn) : undefined,
        maxMessageAge: stage.maxMessageAge,
      },
      ...props.lake,
    });

    const analysts = props.analystPrincipals ?? stage.analystPrincipalArns.map((arn) => analystPrincipal(this, arn));
    if (analysts.length > 0) {
      this.analystsRole = new iam.Role(this, 'AnalystsRole', {
        assumedBy: new iam.CompositePrincipal(...analysts),
        description: 'Analysts: query silver and gold through the analysts workgroup; no bronze, no quarantine',
      });
      this.lake.grantAnalystAccess(this.analystsRole);
      acknowledgeInlinePolicies(this.analystsRole);
    }

    this.outputs();
  }

  private outputs(): void {
    const { storage, catalog, query, ingestion } = this.lake;
    const output = (id: string, value: string, description: string) => new CfnOutput(this, id, { value, description });
    const O = STACK_OUTPUT;
    const buckets = {
      bronze: O.bronzeBucket,
      silver: O.silverBucket,
      gold: O.goldBucket,
      quarantine: O.quarantineBucket,
      athenaResults: O.athenaResultsBucket,
    };
    for (const [zone, id] of Object.entries(buckets) as [keyof typeof buckets, string][]) {
      output(id, storage.bucket(zone).bucketName, `The ${zone} bucket`);
    }
    output(O.silverDatabase, catalog.databaseNames.silver, 'Glue database of silver tables');
    output(O.goldDatabase, catalog.databaseNames.gold, 'Glue database of gold tables');
    output(O.quarantineDatabase, catalog.databaseNames.quarantine, 'Glue database of quarantine tables');
    output(O.analystsWorkgroup, query.workgroupName('analysts'), 'Athena workgroup for analysts');
    output(O.platformWorkgroup, query.workgroupName('platform'), 'Athena workgroup for the platform team');
    output(O.ingestQueueUrl, ingestion.queue.queueUrl, 'Queue of bronze object-created events');
    output(O.deadLetterQueueUrl, ingestion.deadLetterQueue.queueUrl, 'Bronze objects that failed ingestion repeatedly');
    output(O.ingestFunctionName, ingestion.function.functionName, 'The ingest function');
    if (this.lake.fanOut)
      output(
        O.fanOutStateMachineArn,
        this.lake.fanOut.stateMachine.stateMachineArn,
        'State machine fanning out objects too large for one invocation',
      );
    if (this.analystsRole)
      output(O.analystsRoleArn, this.analystsRole.roleArn, 'Role analysts assume to query the lake');
  }
}

/** An IAM role or user ARN as itself; a SAML provider ARN as console federation through it. */
function analystPrincipal(scope: Construct, arn: string): iam.IPrincipal {
  if (/:saml-provider\//.test(arn)) {
    const id = `AnalystsSamlProvider${arn.replace(/[^A-Za-z0-9]/g, '').slice(-40)}`;
    return new iam.SamlConsolePrincipal(iam.SamlProvider.fromSamlProviderArn(scope, id, arn));
  }
  return new iam.ArnPrincipal(arn);
}
