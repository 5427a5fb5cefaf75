/** The deployed lake, found by stack name: its buckets, databases, workgroup and queues from the stack outputs. */
import { readFileSync } from 'node:fs';
import { DescribeStacksCommand, type CloudFormationClient } from '@aws-sdk/client-cloudformation';
import { UserError } from '../errors.ts';
import { STACK_OUTPUT } from '../../wiring/names.ts';

/** The outputs of lib/medallion-lake-stack.ts that AWS mode reads (names in wiring/names.ts). */
export const STACK_OUTPUTS = {
  bronzeBucket: STACK_OUTPUT.bronzeBucket,
  silverBucket: STACK_OUTPUT.silverBucket,
  goldBucket: STACK_OUTPUT.goldBucket,
  quarantineBucket: STACK_OUTPUT.quarantineBucket,
  silverDatabase: STACK_OUTPUT.silverDatabase,
  goldDatabase: STACK_OUTPUT.goldDatabase,
  quarantineDatabase: STACK_OUTPUT.quarantineDatabase,
  analystsWorkgroup: STACK_OUTPUT.analystsWorkgroup,
  platformWorkgroup: STACK_OUTPUT.platformWorkgroup,
  ingestQueueUrl: STACK_OUTPUT.ingestQueueUrl,
  deadLetterQueueUrl: STACK_OUTPUT.deadLetterQueueUrl,
} as const;

/** Outputs of features a stack may lack (deployed before them, or turned off). */
export const OPTIONAL_STACK_OUTPUTS = {
  fanOutStateMachineArn: STACK_OUTPUT.fanOutStateMachineArn,
} as const;

export type LakeStack = { stackName: string } & { -readonly [K in keyof typeof STACK_OUTPUTS]: string } & {
  -readonly [K in keyof typeof OPTIONAL_STACK_OUTPUTS]?: string;
};

function fromOutputs(stackName: string, outputs: Record<string, string>): LakeStack {
  const missing = Object.values(STACK_OUTPUTS).filter((key) => !outputs[key]);
  if (missing.length) {
    throw new UserError(
      `stack ${stackName} lacks the outputs ${missing.join(', ')}`,
      'is it a Medallion Lake stack, deployed from this version? (`npx cdk deploy` updates it)',
    );
  }
  const fields = Object.fromEntries(
    Object.entries(STACK_OUTPUTS).map(([field, key]) => [field, outputs[key] as string]),
  );
  const optional = Object.fromEntries(
    Object.entries(OPTIONAL_STACK_OUTPUTS).flatMap(([field, key]) => (outputs[key] ? [[field, outputs[key]]] : [])),
  );
  return { stackName, ...fields, ...optional } as LakeStack;
}

export async function describeLakeStack(client: CloudFormationClient, stackName: string): Promise<LakeStack> {
  let outputs: Record<string, string>;
  try {
    const response = await client.send(new DescribeStacksCommand({ StackName: stackName }));
    const stack = response.Stacks?.[0];
    if (!stack) throw new UserError(`no stack named ${stackName}`);
    if (stack.StackStatus?.endsWith('_IN_PROGRESS') && stack.StackStatus.startsWith('CREATE')) {
      throw new UserError(
        `stack ${stackName} is still being created (${stack.StackStatus})`,
        'wait for the deployment to finish',
      );
    }
    outputs = Object.fromEntries(
      (stack.Outputs ?? [])
        .filter((o) => o.OutputKey && o.OutputValue)
        .map((o) => [o.OutputKey as string, o.OutputValue as string]),
    );
  } catch (e) {
    if ((e as Error).name === 'ValidationError' && /does not exist/.test((e as Error).message)) {
      throw new UserError(
        `no stack named ${stackName} in this account and region`,
        'check --stack, --region and AWS_PROFILE; `npx cdk list` shows the stack names',
      );
    }
    throw e;
  }
  return fromOutputs(stackName, outputs);
}

/** `cdk deploy --outputs-file FILE` writes `{ "<stack>": { "<OutputKey>": "<value>" } }`. */
export function readOutputsFile(path: string, stackName: string): LakeStack {
  let document: Record<string, Record<string, string>>;
  try {
    document = JSON.parse(readFileSync(path, 'utf8')) as Record<string, Record<string, string>>;
  } catch (e) {
    throw new UserError(`cannot read the outputs file ${path}: ${(e as Error).message}`);
  }
  const outputs = document[stackName];
  if (!outputs)
    throw new UserError(
      `${path} has no outputs for stack ${stackName}`,
      `stacks in the file: ${Object.keys(document).join(', ') || 'none'}`,
    );
  return fromOutputs(stackName, outputs);
}
