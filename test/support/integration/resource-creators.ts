/** How each supported CloudFormation resource type is created in moto, from its resolved properties. */
import {
  CreateBucketCommand,
  PutBucketEncryptionCommand,
  PutBucketNotificationConfigurationCommand,
  PutBucketVersioningCommand,
  type BucketLocationConstraint,
} from '@aws-sdk/client-s3';
import { CreateQueueCommand } from '@aws-sdk/client-sqs';
import { CreateDatabaseCommand, CreateTableCommand, type DatabaseInput, type TableInput } from '@aws-sdk/client-glue';
import { awsJsonCall } from './aws-json.ts';
import type { Json, ResolveContext, ResolvedResource } from './intrinsics.ts';
import type { Clients } from './provision.ts';

type Props = Record<string, Json>;
export type Creator = (id: string, props: Props, ctx: ResolveContext) => Promise<ResolvedResource>;

function str(value: Json | undefined): string | undefined {
  return value === undefined || value === null ? undefined : String(value);
}

/** Turns a CloudFormation-generated name into a deterministic one: the logical id (lower-cased for buckets), within limits. */
export function generatedName(logicalId: string, maxLength: number, lowercase: boolean): string {
  return (lowercase ? logicalId.toLowerCase() : logicalId).slice(0, maxLength);
}

export function makeCreators(
  clients: Clients,
  endpoint: string,
  region: string,
  accountId: string,
): Record<string, Creator> {
  const json = (service: 'kms' | 'events', action: string, body: Record<string, unknown>) =>
    awsJsonCall(endpoint, region, accountId, service, action, body);
  return {
    'AWS::KMS::Key': async (_id, props) => {
      const { KeyMetadata } = await json('kms', 'CreateKey', { Description: props.Description ?? '' });
      const key = KeyMetadata as { KeyId: string; Arn: string };
      return { ref: key.KeyId, attributes: { Arn: key.Arn, KeyId: key.KeyId } };
    },

    'AWS::S3::Bucket': async (id, props) => {
      const bucket = str(props.BucketName) ?? generatedName(id, 63, true);
      await clients.s3.send(
        new CreateBucketCommand({
          Bucket: bucket,
          ...(region === 'us-east-1'
            ? {}
            : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
          ...(props.ObjectLockEnabled === true ? { ObjectLockEnabledForBucket: true } : {}),
        }),
      );
      const versioning = props.VersioningConfiguration as { Status?: string } | undefined;
      if (versioning?.Status)
        await clients.s3.send(
          new PutBucketVersioningCommand({
            Bucket: bucket,
            VersioningConfiguration: { Status: versioning.Status as 'Enabled' | 'Suspended' },
          }),
        );
      type CfnEncryptionRule = {
        ServerSideEncryptionByDefault?: { SSEAlgorithm: string; KMSMasterKeyID?: string };
        BucketKeyEnabled?: boolean;
      };
      const encryption = props.BucketEncryption as
        { ServerSideEncryptionConfiguration?: CfnEncryptionRule[] } | undefined;
      if (encryption?.ServerSideEncryptionConfiguration) {
        // CloudFormation's `ServerSideEncryptionByDefault` is the API's `ApplyServerSideEncryptionByDefault`.
        const rules = encryption.ServerSideEncryptionConfiguration.map((r) => ({
          ApplyServerSideEncryptionByDefault: r.ServerSideEncryptionByDefault as never,
          BucketKeyEnabled: r.BucketKeyEnabled,
        }));
        await clients.s3.send(
          new PutBucketEncryptionCommand({ Bucket: bucket, ServerSideEncryptionConfiguration: { Rules: rules } }),
        );
      }
      await applyNotifications(clients, bucket, props.NotificationConfiguration as Props | undefined);
      return {
        ref: bucket,
        attributes: {
          Arn: `arn:aws:s3:::${bucket}`,
          DomainName: `${bucket}.s3.amazonaws.com`,
          RegionalDomainName: `${bucket}.s3.${region}.amazonaws.com`,
        },
      };
    },

    // CDK's notifications custom resource (bucket.addEventNotification): apply what it would apply.
    'Custom::S3BucketNotifications': async (id, props) => {
      await applyNotifications(clients, String(props.BucketName), props.NotificationConfiguration as Props | undefined);
      return { ref: id, attributes: {} };
    },

    'AWS::SQS::Queue': async (id, props) => {
      const fifo = props.FifoQueue === true;
      const name = str(props.QueueName) ?? `${generatedName(id, fifo ? 75 : 80, false)}${fifo ? '.fifo' : ''}`;
      const attributes: Record<string, string> = {};
      for (const key of [
        'VisibilityTimeout',
        'MessageRetentionPeriod',
        'DelaySeconds',
        'ReceiveMessageWaitTimeSeconds',
        'MaximumMessageSize',
        'FifoQueue',
        'ContentBasedDeduplication',
        'SqsManagedSseEnabled',
      ]) {
        if (props[key] !== undefined) attributes[key] = String(props[key]);
      }
      if (props.RedrivePolicy !== undefined) attributes.RedrivePolicy = JSON.stringify(props.RedrivePolicy);
      const { QueueUrl } = await clients.sqs.send(new CreateQueueCommand({ QueueName: name, Attributes: attributes }));
      const arn = `arn:aws:sqs:${region}:${accountId}:${name}`;
      return { ref: QueueUrl!, attributes: { Arn: arn, QueueName: name, QueueUrl: QueueUrl! } };
    },

    'AWS::Events::Rule': async (id, props) => {
      const name = str(props.Name) ?? generatedName(id, 64, false);
      const bus = str(props.EventBusName);
      const { RuleArn } = await json('events', 'PutRule', {
        Name: name,
        ...(bus ? { EventBusName: bus } : {}),
        ...(props.EventPattern ? { EventPattern: JSON.stringify(props.EventPattern) } : {}),
        ...(props.ScheduleExpression ? { ScheduleExpression: props.ScheduleExpression } : {}),
        State: props.State ?? 'ENABLED',
        Description: props.Description ?? '',
      });
      const targets = (props.Targets as Props[] | undefined) ?? [];
      if (targets.length > 0)
        await json('events', 'PutTargets', { Rule: name, ...(bus ? { EventBusName: bus } : {}), Targets: targets });
      return { ref: name, attributes: { Arn: String(RuleArn) } };
    },

    'AWS::Glue::Database': async (_id, props) => {
      const input = props.DatabaseInput as unknown as DatabaseInput;
      await clients.glue.send(new CreateDatabaseCommand({ CatalogId: str(props.CatalogId), DatabaseInput: input }));
      return { ref: input.Name!, attributes: {} };
    },

    'AWS::Glue::Table': async (_id, props) => {
      const input = props.TableInput as unknown as TableInput;
      await clients.glue.send(
        new CreateTableCommand({
          CatalogId: str(props.CatalogId),
          DatabaseName: str(props.DatabaseName),
          TableInput: input,
        }),
      );
      return { ref: input.Name!, attributes: {} };
    },
  };
}

/** Key filter rules in either shape: CloudFormation's `S3Key.Rules` or the S3 API's `Key.FilterRules`. */
function filterRules(filter: Json | undefined): { Name: string; Value: string }[] {
  const f = (filter ?? {}) as { S3Key?: { Rules?: Props[] }; Key?: { FilterRules?: Props[] } };
  return (f.S3Key?.Rules ?? f.Key?.FilterRules ?? []).map((r) => ({ Name: String(r.Name), Value: String(r.Value) }));
}

/** A bucket's notification configuration, in CloudFormation's shape (`Event`, `Queue`) or the S3 API's (`Events`, `QueueArn`). */
async function applyNotifications(clients: Clients, bucket: string, config: Props | undefined): Promise<void> {
  if (!config) return;
  const eventBridgeConfig = config.EventBridgeConfiguration as Props | undefined;
  const eventBridge =
    eventBridgeConfig !== undefined &&
    (eventBridgeConfig.EventBridgeEnabled === true || Object.keys(eventBridgeConfig).length === 0);
  const queues = ((config.QueueConfigurations as Props[] | undefined) ?? []).map((q) => {
    const rules = filterRules(q.Filter);
    return {
      QueueArn: String(q.Queue ?? q.QueueArn),
      Events: ([] as string[]).concat((q.Event ?? q.Events) as string | string[]) as never[],
      ...(rules.length ? { Filter: { Key: { FilterRules: rules as never[] } } } : {}),
    };
  });
  if (!eventBridge && queues.length === 0) return;
  await clients.s3.send(
    new PutBucketNotificationConfigurationCommand({
      Bucket: bucket,
      NotificationConfiguration: {
        ...(eventBridge ? { EventBridgeConfiguration: {} } : {}),
        ...(queues.length ? { QueueConfigurations: queues } : {}),
      },
    }),
  );
}
