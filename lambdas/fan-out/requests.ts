/**
 * What the fan-out state machine sends the ingest function: one of three steps, each naming the source by
 * what its staging prefix is named by (dataset and source id), never carrying the plan itself.
 */
export type FanOutRequest =
  | { fanOut: 'plan'; source: { bucket: string; key: string; versionId?: string } }
  | { fanOut: 'chunk'; dataset: string; sourceId: string; index: number }
  | { fanOut: 'commit'; dataset: string; sourceId: string; runId: string };

export class FanOutRequestError extends Error {
  constructor(reason: string, payload: unknown) {
    super(`not a fan-out request: ${reason}; payload ${JSON.stringify(payload)?.slice(0, 300)}`);
    this.name = 'FanOutRequestError';
  }
}

/** Whether the payload is addressed to a fan-out step (it has a `fanOut` field). */
export function isFanOutRequest(event: unknown): event is { fanOut: unknown } {
  return typeof event === 'object' && event !== null && 'fanOut' in event;
}

const text = (value: unknown): value is string => typeof value === 'string' && value.length > 0;

export function parseFanOutRequest(event: unknown): FanOutRequest {
  if (!isFanOutRequest(event)) throw new FanOutRequestError('no fanOut field', event);
  const e = event as Record<string, unknown>;
  switch (e.fanOut) {
    case 'plan': {
      const source = e.source as Record<string, unknown> | undefined;
      if (!source || !text(source.bucket) || !text(source.key))
        throw new FanOutRequestError('plan needs source.bucket and source.key', event);
      if (source.versionId !== undefined && source.versionId !== null && typeof source.versionId !== 'string')
        throw new FanOutRequestError('source.versionId must be a string', event);
      return {
        fanOut: 'plan',
        source: {
          bucket: source.bucket,
          key: source.key,
          ...(text(source.versionId) ? { versionId: source.versionId } : {}),
        },
      };
    }
    case 'chunk':
      if (!text(e.dataset) || !text(e.sourceId) || !Number.isSafeInteger(e.index) || (e.index as number) < 0)
        throw new FanOutRequestError('chunk needs dataset, sourceId and a whole index ≥ 0', event);
      return { fanOut: 'chunk', dataset: e.dataset, sourceId: e.sourceId, index: e.index as number };
    case 'commit':
      if (!text(e.dataset) || !text(e.sourceId) || !text(e.runId))
        throw new FanOutRequestError('commit needs dataset, sourceId and runId', event);
      return { fanOut: 'commit', dataset: e.dataset, sourceId: e.sourceId, runId: e.runId };
    default:
      throw new FanOutRequestError(`unknown step ${JSON.stringify(e.fanOut)}`, event);
  }
}
