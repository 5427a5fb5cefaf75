/**
 * AWS SDK clients for AWS mode. Credentials and region come from the usual chain (profile, SSO, env).
 * `AWS_ENDPOINT_URL` points every client at an emulator (the tests use moto); S3 then uses path-style URLs.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { withClientHooks } from '../../adapters/aws/client-config.ts';

export interface AwsTarget {
  stack: string;
  region?: string;
  /** A `cdk deploy --outputs-file` JSON to read the stack outputs from instead of CloudFormation. */
  outputsFile?: string;
}

export interface AwsClients {
  s3: S3Client;
  sqs: SQSClient;
  athena: AthenaClient;
  cloudFormation: CloudFormationClient;
  sfn: SFNClient;
  destroy(): void;
}

export function awsClients(region?: string, env: NodeJS.ProcessEnv = process.env): AwsClients {
  const endpoint = env.AWS_ENDPOINT_URL || undefined;
  const common = { ...(region ? { region } : {}), ...(endpoint ? { endpoint } : {}), maxAttempts: 5 };
  const clients = {
    s3: withClientHooks(new S3Client({ ...common, forcePathStyle: endpoint !== undefined })),
    sqs: withClientHooks(new SQSClient(common)),
    athena: withClientHooks(new AthenaClient(common)),
    cloudFormation: withClientHooks(new CloudFormationClient(common)),
    sfn: withClientHooks(new SFNClient(common)),
  };
  return { ...clients, destroy: () => Object.values(clients).forEach((c) => c.destroy()) };
}
