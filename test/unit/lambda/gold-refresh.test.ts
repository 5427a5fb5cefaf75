import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it } from '@jest/globals';
import { refreshPrefix, unloadSql } from '../../../adapters/aws/athena-gold-refresh.ts';
import { AthenaQueryEngine } from '../../../adapters/aws/athena-query-engine.ts';
import { planGoldRefresh } from '../../../engine/gold/index.ts';
import { readGoldRefreshConfig } from '../../../lambdas/gold-refresh/config.ts';
import { processGoldRefreshBatch, type GoldRefreshDependencies } from '../../../lambdas/gold-refresh/process.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../../datasets/index.ts';

const SILVER = 'lake-silver';
const eventBridge = (bucket: string, key: string) =>
  JSON.stringify({
    version: '0',
    source: 'aws.s3',
    'detail-type': 'Object Created',
    time: '2024-05-01T00:00:00Z',
    detail: { bucket: { name: bucket }, object: { key, size: 2, etag: 'e' } },
  });
const batch = (...bodies: string[]): SQSEvent =>
  ({
    Records: bodies.map((body, i) => ({
      messageId: `m${i}`,
      body,
      eventSource: 'aws:sqs',
      eventSourceARN: 'arn:aws:sqs:eu-west-1:1:q.fifo',
      attributes: {},
    })),
  }) as unknown as SQSEvent;

function deps(refresh: () => Promise<void>): GoldRefreshDependencies & { lines: string[] } {
  const lines: string[] = [];
  return {
    silverBucket: SILVER,
    refresh,
    logger: { info: (m) => lines.push(`INFO ${m}`), error: (m) => lines.push(`ERROR ${m}`) },
    lines,
  };
}

describe('gold-refresh batch handling', () => {
  it('runs one refresh for a batch of manifest events', async () => {
    let runs = 0;
    const d = deps(async () => void (runs += 1));
    const response = await processGoldRefreshBatch(
      batch(
        eventBridge(SILVER, '_manifests/transactions/a.json'),
        eventBridge(SILVER, '_manifests/transactions/b.json'),
      ),
      d,
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(runs).toBe(1);
  });

  it('does not refresh for events that announce no manifest (other keys, other buckets)', async () => {
    let runs = 0;
    const response = await processGoldRefreshBatch(
      batch(
        eventBridge(SILVER, 'transactions/year=2024/month=01/x.parquet'),
        eventBridge('other-bucket', '_manifests/transactions/a.json'),
      ),
      deps(async () => void (runs += 1)),
    );
    expect(response).toEqual({ batchItemFailures: [] });
    expect(runs).toBe(0);
  });

  it('fails the whole batch when the refresh fails, so SQS retries it', async () => {
    await expect(
      processGoldRefreshBatch(
        batch(eventBridge(SILVER, '_manifests/transactions/a.json')),
        deps(async () => Promise.reject(new Error('Athena down'))),
      ),
    ).rejects.toThrow('Athena down');
  });

  it('reports a non-event message and every message after it (FIFO order), refreshing for the ones before', async () => {
    let runs = 0;
    const d = deps(async () => void (runs += 1));
    const response = await processGoldRefreshBatch(
      batch(
        eventBridge(SILVER, '_manifests/transactions/a.json'),
        'not json',
        eventBridge(SILVER, '_manifests/transactions/b.json'),
      ),
      d,
    );
    expect(response).toEqual({ batchItemFailures: [{ itemIdentifier: 'm1' }, { itemIdentifier: 'm2' }] });
    expect(runs).toBe(1);
    expect(d.lines.filter((l) => l.startsWith('ERROR'))).toHaveLength(1);
  });
});

describe('gold-refresh configuration', () => {
  const env = {
    SILVER_BUCKET: 's',
    GOLD_BUCKET: 'g',
    GLUE_SILVER_DATABASE: 'lake_silver',
    GLUE_GOLD_DATABASE: 'lake_gold',
    GLUE_QUARANTINE_DATABASE: 'lake_quarantine',
    ATHENA_WORKGROUP: 'lake-platform',
  };

  it('reads the environment the infrastructure sets', () => {
    expect(readGoldRefreshConfig({ ...env, CLEANUP_GRACE_SECONDS: '60' })).toEqual({
      silverBucket: 's',
      goldBucket: 'g',
      databases: { silver: 'lake_silver', gold: 'lake_gold', quarantine: 'lake_quarantine' },
      workGroup: 'lake-platform',
      cleanupGraceMs: 60_000,
    });
  });

  it('names every missing variable and rejects a malformed grace', () => {
    expect(() => readGoldRefreshConfig({ SILVER_BUCKET: 's' })).toThrow(
      'missing environment variables: GOLD_BUCKET, GLUE_SILVER_DATABASE, GLUE_GOLD_DATABASE, GLUE_QUARANTINE_DATABASE, ATHENA_WORKGROUP',
    );
    expect(() => readGoldRefreshConfig({ ...env, CLEANUP_GRACE_SECONDS: '1h' })).toThrow('CLEANUP_GRACE_SECONDS');
  });
});

describe('the UNLOAD statement', () => {
  const plan = planGoldRefresh({
    table: ACCOUNT_MONTHLY_BALANCE,
    manifests: [
      {
        dataset: 'transactions',
        source_id: 's1',
        run_id: 'r1',
        status: 'succeeded',
        partitions: [{ values: { year: '2024', month: '01' }, prefix: 'transactions/year=2024/month=01/', rows: 1 }],
      } as never,
    ],
    state: undefined,
  });

  it('writes the plan’s rows as ZSTD Parquet, partitioned by year/month, under the refresh’s own prefix', () => {
    const sql = unloadSql(plan.sql ?? '', 'gold-bucket', refreshPrefix(ACCOUNT_MONTHLY_BALANCE, plan.refreshId));
    expect(sql.startsWith(`UNLOAD (${plan.sql})\n`)).toBe(true);
    expect(
      sql.endsWith(
        `\nTO 's3://gold-bucket/account_monthly_balance/refresh=${plan.refreshId}/'\nWITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['year', 'month'])`,
      ),
    ).toBe(true);
  });

  it('reaches Athena with the stage’s database names and the S3 target left alone', async () => {
    const sent: string[] = [];
    const client = {
      send: async (command: { input: Record<string, unknown>; constructor: { name: string } }) => {
        if (command.constructor.name === 'StartQueryExecutionCommand') {
          sent.push(String(command.input.QueryString));
          return { QueryExecutionId: 'q1' };
        }
        if (command.constructor.name === 'GetQueryExecutionCommand')
          return { QueryExecution: { Status: { State: 'SUCCEEDED' }, StatementType: 'DML' } };
        return { ResultSet: { Rows: [], ResultSetMetadata: { ColumnInfo: [] } } };
      },
      destroy: () => {},
    };
    const engine = new AthenaQueryEngine({
      client: client as never,
      workGroup: 'wg',
      databases: { silver: 'dev_silver', gold: 'dev_gold', quarantine: 'dev_quarantine' },
      sleep: async () => {},
    });
    await engine.query(unloadSql(plan.sql ?? '', 'silver.bucket', 'account_monthly_balance/refresh=x/'));
    expect(sent[0]).toContain('FROM dev_silver.transactions t');
    expect(sent[0]).not.toMatch(/[^_]silver\.transactions/);
    expect(sent[0]).toContain("TO 's3://silver.bucket/account_monthly_balance/refresh=x/'");
  });
});
