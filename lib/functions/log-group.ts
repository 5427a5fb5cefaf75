import { ArnFormat, Aws, Stack, type RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as logs from 'aws-cdk-lib/aws-logs';
import type { Construct } from 'constructs';

/** A log group (construct id `LogGroup`) encrypted with the lake key; the key policy lets CloudWatch Logs use it for this group only. */
export function encryptedLogGroup(
  scope: Construct,
  key: kms.IKey,
  logGroupName: string,
  retention: logs.RetentionDays,
  removalPolicy: RemovalPolicy,
): logs.LogGroup {
  const logGroupArn = Stack.of(scope).formatArn({
    service: 'logs',
    resource: 'log-group',
    resourceName: logGroupName,
    arnFormat: ArnFormat.COLON_RESOURCE_NAME,
  });
  key.addToResourcePolicy(
    new iam.PolicyStatement({
      principals: [new iam.ServicePrincipal(`logs.${Aws.REGION}.amazonaws.com`)],
      actions: ['kms:Encrypt*', 'kms:Decrypt*', 'kms:ReEncrypt*', 'kms:GenerateDataKey*', 'kms:Describe*'],
      resources: ['*'],
      conditions: { ArnEquals: { 'kms:EncryptionContext:aws:logs:arn': logGroupArn } },
    }),
  );
  return new logs.LogGroup(scope, 'LogGroup', { logGroupName, retention, encryptionKey: key, removalPolicy });
}
