/** Routing an object too large for one invocation: one execution of the fan-out state machine per object version. */
import { ExecutionAlreadyExists, StartExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { sourceId, type SourceRef } from '../../engine/index.ts';

export interface FanOutStart {
  executionArn: string;
  /**
   * An execution of this object version has ended already (a late redelivered event): none was started. (For a
   * running one, Step Functions answers a start with the same name and input with that execution.)
   */
  alreadyStarted: boolean;
}

/**
 * The execution's name: a function of bucket, key and version (or ETag), so a redelivered or duplicated
 * event for the same object version can never start a second execution (Step Functions refuses the name).
 */
export function fanOutExecutionName(source: SourceRef): string {
  return `fan-out-${sourceId(source)}`;
}

export async function startFanOut(sfn: SFNClient, stateMachineArn: string, source: SourceRef): Promise<FanOutStart> {
  const name = fanOutExecutionName(source);
  const input = JSON.stringify({
    source: { bucket: source.bucket, key: source.key, ...(source.versionId ? { versionId: source.versionId } : {}) },
  });
  try {
    const response = await sfn.send(new StartExecutionCommand({ stateMachineArn, name, input }));
    if (!response.executionArn)
      throw new Error(`StartExecution ${name} on ${stateMachineArn} returned no execution ARN`);
    return { executionArn: response.executionArn, alreadyStarted: false };
  } catch (error) {
    if (error instanceof ExecutionAlreadyExists || (error as { name?: string }).name === 'ExecutionAlreadyExists') {
      return {
        executionArn: `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`,
        alreadyStarted: true,
      };
    }
    throw error;
  }
}
