/**
 * The ingest dead-letter queue: how many messages wait there, and moving them back to the ingest queue
 * (receive → send → delete, so nothing is lost if the command stops half-way; at worst a message is sent
 * twice, which ingestion tolerates). SQS's StartMessageMoveTask would do the same, but emulators lack it.
 */
import {
  DeleteMessageBatchCommand,
  GetQueueAttributesCommand,
  ReceiveMessageCommand,
  SendMessageBatchCommand,
  type SQSClient,
} from '@aws-sdk/client-sqs';
import { CommandFailed } from '../errors.ts';
import type { Io } from '../io.ts';
import type { AwsMode } from '../options.ts';
import { formatCount, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { renderPairs } from '../ui/table.ts';
import { openAwsSession } from './session.ts';

async function depth(sqs: SQSClient, queueUrl: string): Promise<{ visible: number; inFlight: number }> {
  const { Attributes: a } = await sqs.send(
    new GetQueueAttributesCommand({
      QueueUrl: queueUrl,
      AttributeNames: ['ApproximateNumberOfMessages', 'ApproximateNumberOfMessagesNotVisible'],
    }),
  );
  return {
    visible: Number(a?.ApproximateNumberOfMessages ?? 0),
    inFlight: Number(a?.ApproximateNumberOfMessagesNotVisible ?? 0),
  };
}

export async function dlqStatus(mode: AwsMode, options: { json?: boolean }, io: Io): Promise<void> {
  const { stack, clients, close } = await openAwsSession(mode);
  try {
    const [dlq, queue] = await Promise.all([
      depth(clients.sqs, stack.deadLetterQueueUrl),
      depth(clients.sqs, stack.ingestQueueUrl),
    ]);
    if (options.json) {
      io.print(
        renderJson({
          dead_letter_queue: { url: stack.deadLetterQueueUrl, ...dlq },
          ingest_queue: { url: stack.ingestQueueUrl, ...queue },
        }),
      );
      return;
    }
    io.print(
      renderPairs(
        [
          [
            'dead-letter queue',
            `${formatCount(dlq.visible)} waiting${dlq.inFlight ? `, ${formatCount(dlq.inFlight)} in flight` : ''}`,
          ],
          ['ingest queue', `${formatCount(queue.visible)} waiting, ${formatCount(queue.inFlight)} being processed`],
        ],
        { style: io.style },
      ),
    );
    if (dlq.visible)
      io.print(
        `\nAfter fixing the cause (see the ingest function's logs), move them back: npx lake dlq redrive --aws --stack ${stack.stackName}\n`,
      );
  } finally {
    close();
  }
}

export interface RedriveOptions {
  max?: number;
  json?: boolean;
}

export async function redriveDlq(mode: AwsMode, options: RedriveOptions, io: Io): Promise<number> {
  const { stack, clients, close } = await openAwsSession(mode);
  const progress = io.progress('items');
  let moved = 0;
  try {
    const limit = options.max ?? Number.POSITIVE_INFINITY;
    progress.start('moving messages back', Number.isFinite(limit) ? limit : undefined);
    while (moved < limit) {
      const { Messages: messages = [] } = await clients.sqs.send(
        new ReceiveMessageCommand({
          QueueUrl: stack.deadLetterQueueUrl,
          MaxNumberOfMessages: Math.min(10, limit - moved),
          WaitTimeSeconds: 1,
          VisibilityTimeout: 60,
          MessageAttributeNames: ['All'],
        }),
      );
      if (messages.length === 0) break;
      const sent = await clients.sqs.send(
        new SendMessageBatchCommand({
          QueueUrl: stack.ingestQueueUrl,
          Entries: messages.map((m, i) => ({
            Id: String(i),
            MessageBody: m.Body ?? '',
            MessageAttributes: m.MessageAttributes,
          })),
        }),
      );
      const ok = new Set((sent.Successful ?? []).map((s) => s.Id));
      const toDelete = messages
        .map((m, i) => ({ Id: String(i), ReceiptHandle: m.ReceiptHandle }))
        .filter((e) => ok.has(e.Id));
      if (toDelete.length)
        await clients.sqs.send(
          new DeleteMessageBatchCommand({ QueueUrl: stack.deadLetterQueueUrl, Entries: toDelete }),
        );
      moved += toDelete.length;
      progress.set(moved);
      if (sent.Failed?.length) {
        progress.stop();
        throw new CommandFailed(
          `the ingest queue refused ${plural(sent.Failed.length, 'message')} (${sent.Failed[0]?.Message ?? sent.Failed[0]?.Code}); ${moved} moved so far`,
          'refused messages stay in the dead-letter queue; run the command again',
        );
      }
    }
    progress.stop();
    if (options.json) io.print(renderJson({ moved, from: stack.deadLetterQueueUrl, to: stack.ingestQueueUrl }));
    else
      io.print(
        moved
          ? `Moved ${plural(moved, 'message')} from the dead-letter queue back to the ingest queue.\n`
          : 'The dead-letter queue is empty: nothing to move.\n',
      );
    return moved;
  } finally {
    progress.stop();
    close();
  }
}
