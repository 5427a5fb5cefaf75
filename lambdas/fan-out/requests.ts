/**
 * What the fan-out state machine sends the ingest function: one of three steps, each naming the source by
 * what its staging prefix is named by (dataset and source id), never carrying the plan itself. Validated by a
 * zod schema per step (Powertools' parser); a request that does not fit names the step's requirement.
 */
import { parse } from '@aws-lambda-powertools/parser';
import * as z from 'zod'; // a namespace import: esbuild bundles only what is used (lambdas/ingest/events.ts)

export class FanOutRequestError extends Error {
  constructor(reason: string, payload: unknown) {
    super(`not a fan-out request: ${reason}; payload ${JSON.stringify(payload)?.slice(0, 300)}`);
    this.name = 'FanOutRequestError';
  }
}

/** A non-empty string whose absence or malformation reports `requirement`. */
const text = (requirement: string) => z.string({ error: requirement }).min(1, { error: requirement });

const PLAN_NEEDS = 'plan needs source.bucket and source.key';
const CHUNK_NEEDS = 'chunk needs dataset, sourceId and a whole index ≥ 0';
const COMMIT_NEEDS = 'commit needs dataset, sourceId and runId';

const FanOutRequestSchema = z.discriminatedUnion(
  'fanOut',
  [
    z.object({
      fanOut: z.literal('plan'),
      source: z
        .object(
          {
            bucket: text(PLAN_NEEDS),
            key: text(PLAN_NEEDS),
            versionId: z.string({ error: 'source.versionId must be a string' }).nullish(),
          },
          { error: PLAN_NEEDS },
        )
        .transform(({ bucket, key, versionId }) => ({ bucket, key, ...(versionId ? { versionId } : {}) })),
    }),
    z.object({
      fanOut: z.literal('chunk'),
      dataset: text(CHUNK_NEEDS),
      sourceId: text(CHUNK_NEEDS),
      index: z.number({ error: CHUNK_NEEDS }).int({ error: CHUNK_NEEDS }).nonnegative({ error: CHUNK_NEEDS }),
    }),
    z.object({
      fanOut: z.literal('commit'),
      dataset: text(COMMIT_NEEDS),
      sourceId: text(COMMIT_NEEDS),
      runId: text(COMMIT_NEEDS),
    }),
  ],
  { error: (issue) => `unknown step ${JSON.stringify((issue.input as { fanOut?: unknown } | undefined)?.fanOut)}` },
);

export type FanOutRequest = z.output<typeof FanOutRequestSchema>;

/** Whether the payload is addressed to a fan-out step (it has a `fanOut` field). */
export function isFanOutRequest(event: unknown): event is { fanOut: unknown } {
  return typeof event === 'object' && event !== null && 'fanOut' in event;
}

export function parseFanOutRequest(event: unknown): FanOutRequest {
  if (!isFanOutRequest(event)) throw new FanOutRequestError('no fanOut field', event);
  const result = parse(event, undefined, FanOutRequestSchema, true);
  if (result.success) return result.data;
  const [issue] = (result.error.cause ?? []) as z.core.$ZodIssue[];
  throw new FanOutRequestError(issue?.message ?? result.error.message, event);
}
