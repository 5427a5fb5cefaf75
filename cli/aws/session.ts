/** One AWS-mode command's view of the deployed lake: the stack outputs, the lake's store and control clients. */
import { openS3ObjectStore } from '../../adapters/aws/lake-ports.ts';
import type { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import type { AwsMode } from '../options.ts';
import { cliClientOptions } from '../../adapters/aws/client-config.ts';
import { awsClients, type AwsClients } from './clients.ts';
import { describeLakeStack, readOutputsFile, type LakeStack } from './stack.ts';

export interface AwsSession {
  stack: LakeStack;
  /** The stack's four zone buckets behind the ObjectStore port: every S3 call of AWS mode goes through it. */
  store: S3ObjectStore;
  clients: AwsClients;
  /** Releases every client of the session. */
  close(): void;
}

export async function openAwsSession(mode: AwsMode): Promise<AwsSession> {
  const clients = awsClients(mode.region);
  let stack: LakeStack;
  try {
    stack = mode.outputsFile
      ? readOutputsFile(mode.outputsFile, mode.stack)
      : await describeLakeStack(clients.cloudFormation, mode.stack);
  } catch (e) {
    clients.destroy();
    throw e;
  }
  const store = openS3ObjectStore(
    {
      bronze: stack.bronzeBucket,
      silver: stack.silverBucket,
      gold: stack.goldBucket,
      quarantine: stack.quarantineBucket,
    },
    cliClientOptions(mode.region),
  );
  const close = () => {
    store.destroy();
    clients.destroy();
  };
  return { stack, store, clients, close };
}
