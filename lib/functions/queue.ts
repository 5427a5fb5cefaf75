/** How a lake function's SQS event source is sized: shared by the ingest and gold-refresh functions. */

/** Lambda requires the queue's visibility timeout to cover retries of a batch: AWS recommends 6× the timeout. */
export const VISIBILITY_TIMEOUT_FACTOR = 6;

/**
 * AWS's guidance for a queue that is a Lambda event source: at least 5 receives before the dead-letter queue,
 * so a message is not dead-lettered just because its batch was throttled or retried a few times.
 */
export const MIN_MAX_RECEIVE_COUNT = 5;

/** Throws unless `count` is a whole number of at least `MIN_MAX_RECEIVE_COUNT`. */
export function validateMaxReceiveCount(count: number): void {
  if (!Number.isInteger(count) || count < MIN_MAX_RECEIVE_COUNT) {
    throw new Error(
      `maxReceiveCount must be a whole number of at least ${MIN_MAX_RECEIVE_COUNT}, AWS's guidance for Lambda event-source queues (got ${count})`,
    );
  }
}
