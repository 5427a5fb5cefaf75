/**
 * The fan-out executions of the deployed lake: those that did not succeed (with the object each was for and
 * the state that failed), and redriving one — Step Functions re-runs only its failed steps, every one of which
 * rewrites the same keys — or, with `restart`, a new execution of the same input from the plan on.
 */
import {
  DescribeExecutionCommand,
  ListExecutionsCommand,
  RedriveExecutionCommand,
  StartExecutionCommand,
  type ExecutionListItem,
  type ExecutionStatus,
  type SFNClient,
} from '@aws-sdk/client-sfn';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import type { AwsMode } from '../options.ts';
import { renderJson } from '../ui/output.ts';
import { renderTable } from '../ui/table.ts';
import { openAwsSession } from './session.ts';
import type { LakeStack } from './stack.ts';

const NOT_SUCCEEDED: ExecutionStatus[] = ['FAILED', 'TIMED_OUT', 'ABORTED'];

export interface FanOutExecution {
  name: string;
  status: string;
  started: string | null;
  stopped: string | null;
  source_key: string | null;
  error: string | null;
  cause: string | null;
}

function stateMachineOf(stack: LakeStack): string {
  if (!stack.fanOutStateMachineArn) {
    throw new UserError(
      `stack ${stack.stackName} has no fan-out state machine`,
      'deploy this version (`npx cdk deploy`), or it was turned off with `fanOut: false`',
    );
  }
  return stack.fanOutStateMachineArn;
}

async function describe(sfn: SFNClient, item: ExecutionListItem): Promise<FanOutExecution> {
  const detail = await sfn.send(new DescribeExecutionCommand({ executionArn: item.executionArn }));
  let sourceKey: string | null = null;
  try {
    sourceKey = (JSON.parse(detail.input ?? '{}') as { source?: { key?: string } }).source?.key ?? null;
  } catch {
    sourceKey = null;
  }
  return {
    name: item.name ?? '',
    status: item.status ?? '',
    started: item.startDate?.toISOString() ?? null,
    stopped: item.stopDate?.toISOString() ?? null,
    source_key: sourceKey,
    error: detail.error ?? null,
    cause: detail.cause ? detail.cause.slice(0, 300) : null,
  };
}

/** Executions that did not succeed (or, with `all`, every execution), newest first. */
export async function listFanOuts(
  mode: AwsMode,
  options: { all?: boolean; json?: boolean },
  io: Io,
): Promise<FanOutExecution[]> {
  const { stack, clients, close } = await openAwsSession(mode);
  try {
    const stateMachineArn = stateMachineOf(stack);
    const items: ExecutionListItem[] = [];
    for (const statusFilter of options.all ? [undefined] : NOT_SUCCEEDED) {
      let nextToken: string | undefined;
      do {
        const page = await clients.sfn.send(new ListExecutionsCommand({ stateMachineArn, statusFilter, nextToken }));
        items.push(...(page.executions ?? []));
        nextToken = page.nextToken;
      } while (nextToken);
    }
    items.sort((a, b) => (b.startDate?.getTime() ?? 0) - (a.startDate?.getTime() ?? 0));
    const executions = await Promise.all(items.map((item) => describe(clients.sfn, item)));
    if (options.json) io.print(renderJson(executions));
    else if (executions.length === 0)
      io.print(options.all ? 'No fan-out executions.\n' : 'No failed, timed-out or aborted fan-out executions.\n');
    else {
      io.print(
        renderTable(
          [
            { header: 'execution' },
            { header: 'status' },
            { header: 'started' },
            { header: 'object' },
            { header: 'error' },
          ],
          executions.map((e) => [
            e.name,
            e.status,
            e.started ?? '',
            e.source_key ?? '',
            [e.error, e.cause].filter(Boolean).join(': '),
          ]),
          { style: io.style },
        ),
      );
      io.print(
        `\nRedrive one once its cause is fixed: npx lake fanout redrive <execution> --aws --stack ${stack.stackName} (runbook: "A fan-out execution failed")\n`,
      );
    }
    return executions;
  } finally {
    close();
  }
}

/** Step Functions' longest execution name. */
const MAX_EXECUTION_NAME = 80;

/**
 * The name of a restarted execution: the original's (less an earlier restart's suffix) and a timestamp that
 * makes it new. The timestamp is kept whole — the name is cut before it — so a second restart never repeats a name.
 */
export function restartExecutionName(name: string, nowMs: number): string {
  const suffix = `-restart-${nowMs.toString(36)}`;
  const base = name.replace(/-restart-[0-9a-z]+$/, '');
  return `${base.slice(0, MAX_EXECUTION_NAME - suffix.length)}${suffix}`;
}

/** Redrives a failed execution (only its failed steps run again), or with `restart` starts its input again under a new name. */
export async function redriveFanOut(
  mode: AwsMode,
  name: string,
  options: { restart?: boolean; json?: boolean },
  io: Io,
): Promise<string> {
  const { stack, clients, close } = await openAwsSession(mode);
  try {
    const stateMachineArn = stateMachineOf(stack);
    const executionArn = `${stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
    const detail = await clients.sfn.send(new DescribeExecutionCommand({ executionArn })).catch((e: unknown) => {
      if ((e as Error).name === 'ExecutionDoesNotExist')
        throw new UserError(`no fan-out execution named ${name}`, '`npx lake fanout list --aws …` lists them');
      throw e;
    });
    if (!NOT_SUCCEEDED.includes(detail.status as ExecutionStatus))
      throw new UserError(`execution ${name} is ${detail.status}: only failed, timed-out or aborted ones are redriven`);
    let started: string;
    if (options.restart) {
      const response = await clients.sfn.send(
        new StartExecutionCommand({
          stateMachineArn,
          name: restartExecutionName(name, Date.now()),
          input: detail.input,
        }),
      );
      started = response.executionArn ?? '';
    } else {
      await clients.sfn.send(new RedriveExecutionCommand({ executionArn }));
      started = executionArn;
    }
    if (options.json) io.print(renderJson({ execution_arn: started, restarted: options.restart ?? false }));
    else
      io.print(
        `${options.restart ? 'Started again' : 'Redriven'}: ${started}\nFollow it with: npx lake fanout list --all --aws --stack ${stack.stackName}\n`,
      );
    return started;
  } finally {
    close();
  }
}
