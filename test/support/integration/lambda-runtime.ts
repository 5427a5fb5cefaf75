/**
 * Plays the Lambda service for the bundled ingest function: gives it the environment from the template
 * (paths under /var/task and /tmp mapped to the asset and a scratch directory), and drives it from the
 * queue the way the SQS event source mapping does — batches of `BatchSize`, partial batch responses
 * honoured only when `ReportBatchItemFailures` is configured, failed messages left for redelivery.
 */
import {
  ChangeMessageVisibilityCommand,
  DeleteMessageBatchCommand,
  ReceiveMessageCommand,
  type Message,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { assertRunsOnDeclaredNode } from './node-runtime.ts';
import type { LakeUnderTest } from './provision.ts';

export type BundledHandler = (event: unknown, context: Context) => Promise<unknown>;

/** The process environment Lambda would give the function, pointed at the emulator. */
export function functionEnvironment(
  lake: LakeUnderTest,
  workDir: string,
  overrides: Record<string, string> = {},
): Record<string, string> {
  const mapPath = (value: string): string =>
    value.startsWith('/var/task')
      ? `${lake.fn.assetDir}${value.slice('/var/task'.length)}`
      : value.startsWith('/tmp')
        ? `${workDir}${value.slice('/tmp'.length)}`
        : value;
  const fromTemplate = Object.fromEntries(Object.entries(lake.fn.environment).map(([k, v]) => [k, mapPath(v)]));
  delete fromTemplate.NODE_OPTIONS; // applies to the Lambda runtime's process, not ours
  return {
    ...fromTemplate,
    AWS_REGION: lake.region,
    AWS_DEFAULT_REGION: lake.region,
    AWS_ACCESS_KEY_ID: lake.accountId,
    AWS_SECRET_ACCESS_KEY: 'moto',
    AWS_ENDPOINT_URL: lake.endpoint,
    AWS_LAMBDA_FUNCTION_NAME: lake.fn.logicalId,
    _HANDLER: lake.fn.handler,
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(lake.fn.memorySize),
    AWS_LAMBDA_INITIALIZATION_TYPE: 'on-demand',
    LAMBDA_TASK_ROOT: lake.fn.assetDir,
    ...overrides,
  };
}

/** Imports the bundle in this process. Call once per test file: the module keeps its clients, like a warm container. */
export async function loadBundledHandler(
  lake: LakeUnderTest,
  workDir: string,
  overrides: Record<string, string> = {},
): Promise<BundledHandler> {
  assertRunsOnDeclaredNode(lake.fn.runtime, lake.fn.logicalId);
  Object.assign(process.env, functionEnvironment(lake, workDir, overrides));
  const module = (await import(pathToFileURL(join(lake.fn.assetDir, lake.fn.entryFile)).href)) as Record<
    string,
    unknown
  >;
  const handler = module[lake.fn.exportName];
  if (typeof handler !== 'function')
    throw new Error(`${lake.fn.entryFile} does not export a function "${lake.fn.exportName}"`);
  return handler as BundledHandler;
}

export function lambdaContext(lake: LakeUnderTest, requestId = `req-${Date.now()}`): Context {
  const deadline = Date.now() + lake.fn.timeoutSeconds * 1000;
  return {
    functionName: lake.fn.logicalId,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:${lake.region}:${lake.accountId}:function:${lake.fn.logicalId}`,
    memoryLimitInMB: String(lake.fn.memorySize),
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${lake.fn.logicalId}`,
    logStreamName: 'integration',
    callbackWaitsForEmptyEventLoop: false,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  };
}

/** The SQS event Lambda builds from received messages. */
export function sqsEventFrom(lake: LakeUnderTest, messages: readonly Message[]): SQSEvent {
  return {
    Records: messages.map((m): SQSRecord => ({
      messageId: m.MessageId!,
      receiptHandle: m.ReceiptHandle!,
      body: m.Body ?? '',
      attributes: {
        ApproximateReceiveCount: m.Attributes?.ApproximateReceiveCount ?? '1',
        SentTimestamp: m.Attributes?.SentTimestamp ?? '0',
        SenderId: m.Attributes?.SenderId ?? '',
        ApproximateFirstReceiveTimestamp: m.Attributes?.ApproximateFirstReceiveTimestamp ?? '0',
      },
      messageAttributes: {},
      md5OfBody: m.MD5OfBody ?? '',
      eventSource: 'aws:sqs',
      eventSourceARN: lake.queue.arn,
      awsRegion: lake.region,
    })),
  };
}

export async function receive(sqs: SQSClient, queueUrl: string, max: number, waitTimeSeconds = 0): Promise<Message[]> {
  const response = await sqs.send(
    new ReceiveMessageCommand({
      QueueUrl: queueUrl,
      MaxNumberOfMessages: Math.min(10, max),
      WaitTimeSeconds: waitTimeSeconds,
      MessageSystemAttributeNames: ['All'],
    }),
  );
  return response.Messages ?? [];
}

export interface InvocationRecord {
  messages: Message[];
  response: unknown;
  /** Message ids that stay on the queue (reported failures, or the whole batch when the invocation threw). */
  failed: string[];
  error?: unknown;
}

export interface PollOptions {
  /** Make failed messages visible again at once, instead of after the queue's visibility timeout. */
  retryImmediately?: boolean;
  /** Stop after this many invocations. @default 50 */
  maxInvocations?: number;
  /** Override the batch size (e.g. to keep a redelivery in its own batch). */
  batchSize?: number;
}

/** Acts as the event source mapping until the queue has nothing visible. */
export async function drainQueue(
  lake: LakeUnderTest,
  sqs: SQSClient,
  handler: BundledHandler,
  options: PollOptions = {},
): Promise<InvocationRecord[]> {
  const invocations: InvocationRecord[] = [];
  for (let n = 0; n < (options.maxInvocations ?? 50); n++) {
    const messages = await receive(sqs, lake.queue.url, options.batchSize ?? lake.eventSource.batchSize);
    if (messages.length === 0) break;
    invocations.push(await invokeWith(lake, sqs, handler, messages, options));
  }
  return invocations;
}

/** One invocation with these received messages; deletes what succeeded, as the event source mapping does. */
export async function invokeWith(
  lake: LakeUnderTest,
  sqs: SQSClient,
  handler: BundledHandler,
  messages: Message[],
  options: PollOptions = {},
): Promise<InvocationRecord> {
  let response: unknown;
  let error: unknown;
  try {
    response = await handler(sqsEventFrom(lake, messages), lambdaContext(lake));
  } catch (e) {
    error = e;
  }
  let failed: string[];
  if (error !== undefined) failed = messages.map((m) => m.MessageId!);
  else if (lake.eventSource.reportBatchItemFailures) {
    const reported = ((response as SQSBatchResponse | undefined)?.batchItemFailures ?? []).map((f) => f.itemIdentifier);
    // Lambda treats an unknown identifier as a failure of the whole batch.
    failed = reported.some((id) => !messages.some((m) => m.MessageId === id))
      ? messages.map((m) => m.MessageId!)
      : reported;
  } else failed = []; // without ReportBatchItemFailures, Lambda ignores the response: the whole batch succeeded
  const succeeded = messages.filter((m) => !failed.includes(m.MessageId!));
  if (succeeded.length > 0) {
    await sqs.send(
      new DeleteMessageBatchCommand({
        QueueUrl: lake.queue.url,
        Entries: succeeded.map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle! })),
      }),
    );
  }
  if (options.retryImmediately) {
    for (const m of messages.filter((msg) => failed.includes(msg.MessageId!))) {
      await sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: lake.queue.url,
          ReceiptHandle: m.ReceiptHandle!,
          VisibilityTimeout: 0,
        }),
      );
    }
  }
  return { messages, response, failed, ...(error !== undefined ? { error } : {}) };
}
