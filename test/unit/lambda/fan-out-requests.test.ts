/** What the fan-out state machine sends the ingest function, parsed strictly; its settings from the environment. */
import { describe, expect, it } from '@jest/globals';
import { readConfig } from '../../../lambdas/ingest/config.ts';
import { fanOutExecutionName } from '../../../lambdas/fan-out/start.ts';
import { FanOutRequestError, isFanOutRequest, parseFanOutRequest } from '../../../lambdas/fan-out/requests.ts';

describe('fan-out requests', () => {
  it('parses the three steps as the state machine sends them', () => {
    expect(
      parseFanOutRequest({ fanOut: 'plan', source: { bucket: 'b', key: 'transactions/x.csv', versionId: 'v1' } }),
    ).toEqual({
      fanOut: 'plan',
      source: { bucket: 'b', key: 'transactions/x.csv', versionId: 'v1' },
    });
    expect(parseFanOutRequest({ fanOut: 'plan', source: { bucket: 'b', key: 'k' } })).toEqual({
      fanOut: 'plan',
      source: { bucket: 'b', key: 'k' },
    });
    expect(parseFanOutRequest({ fanOut: 'chunk', dataset: 'transactions', sourceId: 'abc', index: 0 })).toEqual({
      fanOut: 'chunk',
      dataset: 'transactions',
      sourceId: 'abc',
      index: 0,
    });
    expect(parseFanOutRequest({ fanOut: 'commit', dataset: 'transactions', sourceId: 'abc', runId: 'r' })).toEqual({
      fanOut: 'commit',
      dataset: 'transactions',
      sourceId: 'abc',
      runId: 'r',
    });
  });

  it('refuses what is not a well-formed step, naming why', () => {
    expect(() => parseFanOutRequest({ fanOut: 'plan', source: { bucket: 'b' } })).toThrow(
      new FanOutRequestError('plan needs source.bucket and source.key', { fanOut: 'plan', source: { bucket: 'b' } }),
    );
    expect(() => parseFanOutRequest({ fanOut: 'chunk', dataset: 'd', sourceId: 's', index: -1 })).toThrow(
      /whole index ≥ 0/,
    );
    expect(() => parseFanOutRequest({ fanOut: 'chunk', dataset: 'd', sourceId: 's', index: 1.5 })).toThrow(
      /whole index ≥ 0/,
    );
    expect(() => parseFanOutRequest({ fanOut: 'commit', dataset: 'd', sourceId: 's' })).toThrow(/runId/);
    expect(() => parseFanOutRequest({ fanOut: 'merge' })).toThrow(/unknown step "merge"/);
    expect(isFanOutRequest({ Records: [] })).toBe(false);
    expect(isFanOutRequest(null)).toBe(false);
  });

  it('names an execution by bucket, key and version: the same object version always, another version never', () => {
    const a = fanOutExecutionName({ bucket: 'b', key: 'k', versionId: 'v1' });
    expect(a).toMatch(/^fan-out-[0-9a-f]{24}$/);
    expect(fanOutExecutionName({ bucket: 'b', key: 'k', versionId: 'v1', etag: 'x' })).toBe(a);
    expect(fanOutExecutionName({ bucket: 'b', key: 'k', versionId: 'v2' })).not.toBe(a);
    expect(a.length).toBeLessThanOrEqual(80);
  });

  it('reads FAN_OUT_* from the environment, refusing what is not a positive integer', () => {
    const env = {
      CONTRACTS_DIR: 'c',
      BRONZE_BUCKET: 'b',
      SILVER_BUCKET: 's',
      QUARANTINE_BUCKET: 'q',
      GLUE_SILVER_DATABASE: 'g',
    };
    expect(
      readConfig({
        ...env,
        FAN_OUT_STATE_MACHINE_ARN: 'arn:aws:states:eu-west-1:1:stateMachine:x',
        FAN_OUT_MIN_BYTES: '1073741824',
        FAN_OUT_CHUNK_BYTES: '1024',
      }),
    ).toMatchObject({
      fanOutStateMachineArn: 'arn:aws:states:eu-west-1:1:stateMachine:x',
      fanOutMinBytes: 1073741824,
      fanOutChunkBytes: 1024,
    });
    expect(readConfig(env).fanOutStateMachineArn).toBeUndefined();
    expect(() => readConfig({ ...env, FAN_OUT_MIN_BYTES: '1GB' })).toThrow(
      /FAN_OUT_MIN_BYTES must be a positive integer/,
    );
  });
});
