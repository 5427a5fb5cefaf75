/**
 * The control-plane clients of AWS mode (CloudFormation, SQS, Step Functions, Secrets Manager), built from the
 * one client configuration the functions use too (adapters/aws/client-config.ts): credentials and region from
 * the usual chain, `AWS_ENDPOINT_URL` points every client at an emulator (the tests use moto), the CLI's
 * retries. Storage and queries go through the ports instead (session.ts: `store`; athena.ts).
 */
import { CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { clientConfig, cliClientOptions, withClientHooks } from '../../adapters/aws/client-config.ts';

export interface AwsClients {
  sqs: SQSClient;
  cloudFormation: CloudFormationClient;
  sfn: SFNClient;
  secretsManager: SecretsManagerClient;
  destroy(): void;
}

export function awsClients(region?: string): AwsClients {
  const common = clientConfig(cliClientOptions(region));
  const clients = {
    sqs: withClientHooks(new SQSClient(common)),
    cloudFormation: withClientHooks(new CloudFormationClient(common)),
    sfn: withClientHooks(new SFNClient(common)),
    secretsManager: withClientHooks(new SecretsManagerClient(common)),
  };
  return { ...clients, destroy: () => Object.values(clients).forEach((c) => c.destroy()) };
}
