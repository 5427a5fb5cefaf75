/**
 * What the ingest function does with an invocation, independent of how its dependencies are built:
 * SQS batches with partial batch failures (Powertools' batch processor), or a single direct S3/EventBridge
 * event, or a step of the fan-out state machine. Traced with Powertools' tracer decorators.
 */
import {
  BatchProcessor,
  EventType,
  processPartialResponse,
  SqsFifoPartialProcessorAsync,
  SqsFifoShortCircuitError,
} from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { runId, sourceId, type SourceRef, sourceVersion, UNKNOWN_DATASET } from '../../engine/contract/index.ts';
import { isTransientError } from '../../adapters/aws/aws-errors.ts';
import { handleFanOut, type FanOutResponse } from '../fan-out/handler.ts';
import { isFanOutRequest } from '../fan-out/requests.ts';
import { parseEventDocument, parseMessageBody, type ObjectCreatedEvent, type ParsedEvents } from './events.ts';
import { ingestAnnouncedObject, type IngestDependencies, type ObjectOutcome } from './ingest-object.ts';
import { logger, publishFailureMetric, publishIngestMetrics, tracer } from './telemetry.ts';

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
  const fn = new IngestFunction(getDependencies);
  return fn.handler.bind(fn);
}

class IngestFunction {
  constructor(private readonly getDependencies: () => IngestDependencies) {}

  // Lambda's own segment cannot carry annotations: the handler subsegment carries cold start and service.
  @tracer.captureLambdaHandler({ captureResponse: false })
  async handler(event: unknown, context: Context): Promise<SQSBatchResponse | FanOutResponse | void> {
    logger.addContext(context);
    if (isSqsEvent(event)) return this.processBatch(event, context);
    // A step of the fan-out state machine (plan, chunk or commit of an object too large for one invocation).
    if (isFanOutRequest(event)) return handleFanOut(event, this.getDependencies());
    // Direct invocation by S3 or EventBridge: a failure throws, so Lambda's async retries and destinations apply.
    await this.processEvents(parseEventDocument(event));
  }

  /**
   * One message after another. A failed message is reported alone (it comes back after the visibility timeout,
   * until the queue moves it to the DLQ); on a FIFO queue every message after it is reported too, unstarted.
   */
  private async processBatch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    let started = 0;
    const processMessage = (record: SQSRecord): Promise<void> =>
      withMessageKeys(record, async () => {
        const parsed = parseMessageBody(record.body);
        // A timeout would fail the whole batch, finished messages included: leave what may not fit to the queue.
        if (started > 0 && context.getRemainingTimeInMillis() < timeNeededMs(parsed)) throw new NotStartedError();
        started++;
        await this.processEvents(parsed);
      });
    // A batch whose every message failed is reported as such, not thrown: the invocation itself did its job.
    const options = { context, throwOnFullBatchFailure: false } as const;
    return event.Records[0]?.eventSourceARN.endsWith('.fifo')
      ? processPartialResponse(event, processMessage, new ReportingFifoProcessor(), options)
      : processPartialResponse(event, processMessage, new ReportingProcessor(EventType.SQS), {
          ...options,
          processInParallel: false,
        });
  }

  private async processEvents(parsed: ParsedEvents): Promise<void> {
    for (const ignored of parsed.ignored)
      logger.info('event ignored', { reason: ignored.reason, detail: ignored.detail });
    for (const event of parsed.objects) await this.processObject(event, this.getDependencies());
  }

  private async processObject(event: ObjectCreatedEvent, deps: IngestDependencies): Promise<void> {
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
      const outcome = await this.ingestObject(event, deps, dataset, identify);
      if (outcome.status === 'skipped' && outcome.reason === 'object-gone') {
        // Bronze keeps every current object: an event naming one it does not hold is a key read wrongly from the event,
        // a noncurrent version its lifecycle expired (a late redrive), or one removed behind the lake's back. A retry
        // finds nothing either, so it is not one; it is counted as a failed object, which alarms (the runbook:
        // "-ingest-object-failures").
        logger.error('object not found in bronze: nothing ingested', {
          detail: outcome.detail,
          event_name: event.eventName,
          origin: event.origin,
        });
        publishFailureMetric(dataset);
        return;
      }
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

  /** One object, in its own subsegment annotated with its dataset and key. */
  @tracer.captureMethod({ subSegmentName: '## ingest object', captureResponse: false })
  private async ingestObject(
    event: ObjectCreatedEvent,
    deps: IngestDependencies,
    dataset: string,
    identify: (source: SourceRef) => void,
  ): Promise<ObjectOutcome> {
    tracer.putAnnotation('dataset', dataset);
    tracer.putAnnotation('source_key', event.key);
    return ingestAnnouncedObject(event, deps, identify);
  }
}

function isSqsEvent(event: unknown): event is SQSEvent {
  if (typeof event !== 'object' || event === null) return false;
  const records = (event as { Records?: unknown }).Records;
  return (
    Array.isArray(records) && records.length > 0 && (records[0] as { eventSource?: unknown }).eventSource === 'aws:sqs'
  );
}

/** A message left to the queue unstarted: too little time left for it. */
class NotStartedError extends Error {
  override readonly name = 'NotStartedError';
}

/** Errors logged where their object's keys were in scope. */
const alreadyLogged = new WeakSet<object>();

const messageKeys = (record: SQSRecord) => ({
  message_id: record.messageId,
  receive_count: Number(record.attributes.ApproximateReceiveCount),
});

/** Runs `work` with the message's log keys on every line it logs, up to its end (not only up to its first await). */
async function withMessageKeys(record: SQSRecord, work: () => Promise<void>): Promise<void> {
  const keys = messageKeys(record);
  logger.appendKeys(keys);
  try {
    await work();
  } finally {
    logger.removeKeys(Object.keys(keys));
  }
}

/** The log line of a message reported as a batch item failure. */
function logFailedMessage(record: SQSRecord, error: Error): void {
  const keys = messageKeys(record);
  logger.appendKeys(keys);
  try {
    if (error instanceof NotStartedError)
      return logger.warn('message not started: too little time left, returned to the queue');
    if (error instanceof SqsFifoShortCircuitError)
      return logger.warn('message not started: an earlier FIFO message failed');
    const details = {
      transient: isTransientError(error),
      body: record.body.length > 1000 ? `${record.body.slice(0, 1000)}…` : record.body,
    };
    const message = 'message failed: it returns to the queue and moves to the DLQ after maxReceiveCount';
    // Object failures were logged with their key and run id already; do not repeat the stack.
    if (alreadyLogged.has(error)) logger.warn(message, { ...details, error: error.message });
    else logger.error(message, { ...details, error });
  } finally {
    logger.removeKeys(Object.keys(keys));
  }
}

type BatchRecord = Parameters<BatchProcessor['failureHandler']>[0];
type FailureResponse = ReturnType<BatchProcessor['failureHandler']>;

/** Powertools' batch processor (standard queue), logging each message it reports as failed. */
class ReportingProcessor extends BatchProcessor {
  override failureHandler(record: BatchRecord, error: Error): FailureResponse {
    logFailedMessage(record as SQSRecord, error);
    return super.failureHandler(record, error);
  }
}

/** Powertools' FIFO processor (stops at the first failure, reports the rest), logging each reported message. */
class ReportingFifoProcessor extends SqsFifoPartialProcessorAsync {
  override failureHandler(record: BatchRecord, error: Error): FailureResponse {
    logFailedMessage(record as SQSRecord, error);
    return super.failureHandler(record, error);
  }
}
