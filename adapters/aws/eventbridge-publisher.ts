/** Lake events on AWS: one PutEvents entry per event, on the account's default bus unless told otherwise. */
import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import type { EventPublisher, LakeEvent } from '../../engine/index.ts';
import { describeAwsError, isTransientError } from './aws-errors.ts';

/** PutEvents failed for an event. `transient` says whether a retry (of the ingest message) can succeed. */
export class EventPublishError extends Error {
  constructor(
    message: string,
    readonly transient: boolean,
    override readonly cause?: unknown,
  ) {
    super(message);
    this.name = 'EventPublishError';
  }
}

/** Entry error codes of a PutEvents response that a later attempt can clear. */
const RETRYABLE_ENTRY_CODES = new Set(['ThrottlingException', 'InternalFailure', 'InternalException']);

export class EventBridgePublisher implements EventPublisher {
  constructor(
    readonly client: EventBridgeClient,
    /** Name or ARN of the bus. @default 'default' */
    readonly eventBusName: string = 'default',
  ) {}

  async publish(event: LakeEvent): Promise<void> {
    const label = `${event.detailType} for ${event.detail.dataset} ${event.detail.source.key} (run ${event.detail.run_id})`;
    let response;
    try {
      response = await this.client.send(
        new PutEventsCommand({
          Entries: [
            {
              EventBusName: this.eventBusName,
              Source: event.source,
              DetailType: event.detailType,
              Time: event.time,
              Resources: [`arn:aws:s3:::${event.detail.source.bucket}/${event.detail.source.key}`],
              Detail: JSON.stringify(event.detail),
            },
          ],
        }),
      );
    } catch (error) {
      throw new EventPublishError(
        `EventBridge PutEvents on ${this.eventBusName} failed for ${label}: ${describeAwsError(error)}`,
        isTransientError(error),
        error,
      );
    }
    const failed = response.Entries?.find((e) => e.ErrorCode);
    if ((response.FailedEntryCount ?? 0) > 0 || failed) {
      const code = failed?.ErrorCode ?? 'UnknownError';
      throw new EventPublishError(
        `EventBridge refused ${label} on ${this.eventBusName}: ${code}: ${failed?.ErrorMessage ?? ''}`.trim(),
        RETRYABLE_ENTRY_CODES.has(code),
      );
    }
  }
}
