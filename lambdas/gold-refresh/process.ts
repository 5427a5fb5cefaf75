/**
 * What the gold-refresh function does with an SQS batch of "a manifest landed in silver" events.
 *
 * Messages carry no data: any manifest event means "plan again from all manifests", so a batch runs one
 * refresh, and lost or duplicated events are harmless (the next one, or a re-run, catches up). A failed
 * refresh fails the whole batch (SQS retries it, then moves it to the DLQ). A message that is not an event
 * is reported as a failure, with every message after it (Powertools' FIFO batch processor: the queue must keep
 * its order), so it ends in the DLQ instead of being retried forever; the refresh still runs for the messages
 * before it.
 */
import { processPartialResponse, SqsFifoPartialProcessorAsync } from '@aws-lambda-powertools/batch';
import type { SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { MANIFESTS_PREFIX } from '../../engine/contract/index.ts';
import { parseMessageBody } from '../ingest/events.ts';

export interface GoldRefreshLogger {
  info(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
}

export interface GoldRefreshDependencies {
  silverBucket: string;
  /** Runs one refresh (plan from all manifests, execute); throws when it fails. */
  refresh(): Promise<void>;
  logger: GoldRefreshLogger;
}

export async function processGoldRefreshBatch(
  event: SQSEvent,
  deps: GoldRefreshDependencies,
): Promise<SQSBatchResponse> {
  const manifestKeys: string[] = [];
  const collectManifests = async (record: SQSRecord): Promise<void> => {
    try {
      for (const o of parseMessageBody(record.body).objects)
        if (o.bucket === deps.silverBucket && o.key.startsWith(MANIFESTS_PREFIX)) manifestKeys.push(o.key);
    } catch (error) {
      deps.logger.error('message is not an S3 event: reported as failed', {
        message_id: record.messageId,
        error: (error as Error).message,
      });
      throw error;
    }
  };
  // A batch of nothing but bad messages is reported as such, not thrown: the DLQ takes them.
  const response = await processPartialResponse(event, collectManifests, new SqsFifoPartialProcessorAsync(), {
    throwOnFullBatchFailure: false,
  });
  if (manifestKeys.length > 0) {
    deps.logger.info('manifests landed: refreshing gold', { manifests: manifestKeys });
    await deps.refresh();
  } else {
    deps.logger.info('no manifest in the batch: nothing to refresh');
  }
  return response;
}
