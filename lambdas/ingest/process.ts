/**
 * What the ingest function does with an invocation, independent of how its dependencies are built:
 * SQS batches with partial batch failures, or a single direct S3/EventBridge event.
 */
import type { Context, SQSBatchItemFailure, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { runId, sourceId, type SourceRef, sourceVersion, UNKNOWN_DATASET } from '../../engine/contract/index.ts';
import { isTransientError } from '../../adapters/aws/aws-errors.ts';
import { handleFanOut, type FanOutResponse } from '../fan-out/handler.ts';
import { isFanOutRequest } from '../fan-out/requests.ts';
import { parseEventDocument, parseMessageBody, type ObjectCreatedEvent, type ParsedEvents } from './events.ts';
import { ingestAnnouncedObject, type IngestDependencies } from './ingest-object.ts';
import { logger, publishFailureMetric, publishIngestMetrics, traced, tracer } from './telemetry.ts';

/** Do not start another message with less time than this left; it goes back to the queue instead. */
export const MIN_REMAINING_MS_TO_START = 30_000;
/**
 * A pessimistic ingest speed for deciding whether a further message of a batch fits in the time left:
 * a quarter of what the engine measured on one core (≈ 18 MB/s, docs/engine.md), for Lambda's smaller CPU share.
 */
export const PESSIMISTIC_BYTES_PER_MS = 4_000;

/** Time to leave for a message: the floor plus its objects' sizes at the pessimistic speed. */
export function timeNeededMs(parsed: ParsedEvents): number {
  const bytes = parsed.objects.reduce((sum, o) => sum + (o.size ?? 0), 0);
  return MIN_REMAINING_MS_TO_START + bytes / PESSIMISTIC_BYTES_PER_MS;
}

export type IngestHandler = (event: unknown, context: Context) => Promise<SQSBatchResponse | FanOutResponse | void>;

/** `getDependencies` is called lazily, so a configuration error surfaces as a failed message with its reason. */
export function createIngestHandler(getDependencies: () => IngestDependencies): IngestHandler {
  return async (event, context) => {
    logger.addContext(context);
    // Lambda's own segment cannot carry annotations: everything runs in a handler subsegment.
    return traced('## handler', {}, async () => {
      tracer.annotateColdStart();
      tracer.addServiceNameAnnotation();
      if (isSqsEvent(event)) return processBatch(event.Records, context, getDependencies);
      // A step of the fan-out state machine (plan, chunk or commit of an object too large for one invocation).
      if (isFanOutRequest(event)) return handleFanOut(event, getDependencies());
      // Direct invocation by S3 or EventBridge: a failure throws, so Lambda's async retries and destinations apply.
      await processEvents(parseEventDocument(event), getDependencies());
    });
  };
}

function isSqsEvent(event: unknown): event is SQSEvent {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  return (
    Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown }).eventSource === 'aws:sqs'
  );
}

/** Errors logged where their object's keys were in scope. */
const alreadyLogged = new WeakSet<object>();

async function processBatch(
  records: SQSRecord[],
  context: Context,
  getDependencies: () => IngestDependencies,
): Promise<SQSBatchResponse> {
  const batchItemFailures: SQSBatchItemFailure[] = [];
  const fifo = records[0]?.eventSourceARN.endsWith('.fifo') ?? false;
  let started = 0;
  for (const record of records) {
    const keys = { message_id: record.messageId, receive_count: Number(record.attributes.ApproximateReceiveCount) };
    logger.appendKeys(keys);
    try {
      const parsed = parseMessageBody(record.body);
      // A timeout would fail the whole batch, finished messages included: leave what may not fit to the queue.
      const outOfTime = started > 0 && context.getRemainingTimeInMillis() < timeNeededMs(parsed);
      if (outOfTime || (fifo && batchItemFailures.length > 0)) {
        logger.warn(
          outOfTime
            ? 'message not started: too little time left, returned to the queue'
            : 'message not started: an earlier FIFO message failed',
        );
        batchItemFailures.push({ itemIdentifier: record.messageId });
        continue;
      }
      started++;
      await processEvents(parsed, getDependencies());
    } catch (error) {
      const details = {
        transient: isTransientError(error),
        body: record.body.length > 1000 ? `${record.body.slice(0, 1000)}…` : record.body,
      };
      const message = 'message failed: it returns to the queue and moves to the DLQ after maxReceiveCount';
      // Object failures were logged with their key and run id already; do not repeat the stack.
      if (alreadyLogged.has(error as object)) logger.warn(message, { ...details, error: (error as Error).message });
      else logger.error(message, { ...details, error: error as Error });
      batchItemFailures.push({ itemIdentifier: record.messageId });
    } finally {
      logger.removeKeys(Object.keys(keys));
    }
  }
  return { batchItemFailures };
}

async function processEvents(parsed: ParsedEvents, deps: IngestDependencies): Promise<void> {
  for (const ignored of parsed.ignored)
    logger.info('event ignored', { reason: ignored.reason, detail: ignored.detail });
  for (const event of parsed.objects) await processObject(event, deps);
}

async function processObject(event: ObjectCreatedEvent, deps: IngestDependencies): Promise<void> {
  const contract = deps.contracts.forKey(event.key);
  const dataset = contract?.name ?? UNKNOWN_DATASET;
  const keys = { source_bucket: event.bucket, source_key: event.key, dataset };
  logger.appendKeys(keys);
  // The engine's deterministic run id, known as soon as S3 has told us the object's version: every line carries it.
  const identify = (source: SourceRef): void =>
    logger.appendKeys({
      run_id: runId(sourceId(source), dataset, contract?.version ?? null),
      source_version: sourceVersion(source) ?? null,
    });
  const started = performance.now();
  try {
    const outcome = await traced('## ingest object', { dataset, source_key: event.key }, () =>
      ingestAnnouncedObject(event, deps, identify),
    );
    if (outcome.status === 'skipped') {
      logger.warn('object skipped', { reason: outcome.reason, detail: outcome.detail, event_name: event.eventName });
      return;
    }
    if (outcome.status === 'fanned-out') {
      logger.info(
        outcome.start.alreadyStarted
          ? 'object already fanned out (its execution has ended): no second execution'
          : 'object fanned out to the state machine',
        {
          execution_arn: outcome.start.executionArn,
          bytes: outcome.source.size,
          event_name: event.eventName,
        },
      );
      return;
    }
    const m = outcome.manifest;
    logger.info(m.status === 'rejected' ? 'object rejected whole into quarantine' : 'object ingested', {
      run_id: m.run_id,
      source_id: m.source_id,
      status: m.status,
      rows_in: m.rows_in,
      rows_valid: m.rows_valid,
      rows_quarantined: m.rows_quarantined,
      reasons: m.reasons,
      partitions: m.partitions.length,
      file_reason: m.quarantine.file_reason,
      event_name: event.eventName,
      origin: event.origin,
    });
    publishIngestMetrics(m, performance.now() - started, event.eventTime);
  } catch (error) {
    logger.error('object failed', { error: error as Error, transient: isTransientError(error) });
    if (typeof error === 'object' && error !== null) alreadyLogged.add(error);
    publishFailureMetric(dataset);
    throw error;
  } finally {
    logger.removeKeys([...Object.keys(keys), 'run_id', 'source_version']);
  }
}
