/** One AWS-mode command's view of the deployed lake: its clients and the stack outputs. */
import type { AwsMode } from '../options.ts';
import { awsClients, type AwsClients } from './clients.ts';
import { describeLakeStack, readOutputsFile, type LakeStack } from './stack.ts';

export interface AwsSession {
  stack: LakeStack;
  clients: AwsClients;
}

export async function openAwsSession(mode: AwsMode): Promise<AwsSession> {
  const clients = awsClients(mode.region);
  try {
    const stack = mode.outputsFile
      ? readOutputsFile(mode.outputsFile, mode.stack)
      : await describeLakeStack(clients.cloudFormation, mode.stack);
    return { stack, clients };
  } catch (e) {
    clients.destroy();
    throw e;
  }
}
