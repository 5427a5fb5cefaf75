/**
 * AWS SDK clients for AWS mode, configured like the functions' (adapters/aws/client-config.ts): credentials and
 * region from the usual chain, `AWS_ENDPOINT_URL` points every client at an emulator (the tests use moto) and
 * S3 then uses path-style URLs.
 */
import { AthenaClient } from '@aws-sdk/client-athena';
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { S3Client } from '@aws-sdk/client-s3';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { CLI_MAX_ATTEMPTS, clientConfig, s3ClientConfig, withClientHooks } from '../../adapters/aws/client-config.ts';

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
  const options = { region, maxAttempts: CLI_MAX_ATTEMPTS };
  const common = clientConfig(options);
  const clients = {
    s3: withClientHooks(new S3Client(s3ClientConfig(options, env))),
    sqs: withClientHooks(new SQSClient(common)),
    athena: withClientHooks(new AthenaClient(common)),
    cloudFormation: withClientHooks(new CloudFormationClient(common)),
    sfn: withClientHooks(new SFNClient(common)),
  };
  return { ...clients, destroy: () => Object.values(clients).forEach((c) => c.destroy()) };
}
