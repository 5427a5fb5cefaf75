/**
 * The gold refresh on AWS against moto, with the lake provisioned from the synthesized template: a manifest's
 * EventBridge event reaching the FIFO refresh queue, and the Athena executor's S3 and Glue work (state, UNLOAD
 * prefix handling, partition repointing, cleanup order, resumption after a crash).
 *
 * Hand-rolled, because moto's Athena never executes SQL: the QueryEngine. It records every statement, answers
 * the superseded-months probe with the rows a test gives it, and performs an UNLOAD by writing one object per
 * month the test says has rows under the UNLOAD's `TO` prefix, in moto's S3. Everything else is real moto.
 */
import {
  AthenaClient,
  CreateWorkGroupCommand,
  GetQueryExecutionCommand,
  ListQueryExecutionsCommand,
} from '@aws-sdk/client-athena';
import { GetPartitionsCommand } from '@aws-sdk/client-glue';
import { ListBucketsCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { GetQueueUrlCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import {
  refreshGoldAthena,
  refreshPrefix,
  retiredKey,
  type AthenaGoldRefreshOptions,
} from '../../adapters/aws/athena-gold-refresh.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { goldStateKey } from '../../engine/gold/index.ts';
import type {
  Manifest,
  ObjectStore,
  OpenOptions,
  QueryEngine,
  PutOptions,
  QueryResult,
  Row,
  Zone,
} from '../../engine/contract/index.ts';
import { processGoldRefreshBatch } from '../../lambdas/gold-refresh/process.ts';
import { lambdaContext } from '../support/integration/lambda-runtime.ts';
import {
  captureStdout,
  getText,
  listKeys,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';
import { assertRunsOnDeclaredNode } from '../support/integration/node-runtime.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../datasets/index.ts';

const TABLE = ACCOUNT_MONTHLY_BALANCE;

/** Only query execution is faked (moto cannot run SQL); the UNLOAD's output lands in moto's S3. */
class ScriptedAthena implements QueryEngine {
  readonly statements: string[] = [];
  probeRows: Row[] = [];
  /** Months the next UNLOAD writes rows for. */
  unloadMonths: string[] = [];
  attempt = 0;

  constructor(private readonly fx: LakeFixture) {}

  async query(sql: string): Promise<QueryResult> {
    this.statements.push(sql);
    if (sql.startsWith('SELECT DISTINCT o.year, o.month')) return { columns: ['year', 'month'], rows: this.probeRows };
    const target = /^UNLOAD \([\s\S]*\)\nTO 's3:\/\/([^/]+)\/([^']+)'\nWITH/.exec(sql);
    if (!target) throw new Error(`unexpected statement: ${sql.slice(0, 80)}`);
    this.attempt += 1;
    for (const k of this.unloadMonths) {
      const key = `${target[2]}year=${k.slice(0, 4)}/month=${k.slice(5)}/attempt-${this.attempt}.parquet`;
      await this.fx.clients.s3.send(new PutObjectCommand({ Bucket: target[1], Key: key, Body: `rows of ${k}` }));
    }
    return { columns: [], rows: [] };
  }

  async close(): Promise<void> {}
}

/** An S3 store that can fail one write, and checks at every delete that no Glue partition points at a deleted key. */
class WatchedStore implements ObjectStore {
  failPut: string | undefined;
  readonly deleted: string[] = [];

  constructor(
    private readonly inner: S3ObjectStore,
    private readonly partitionLocations: () => Promise<string[]>,
    private readonly goldBucket: string,
  ) {}

  putFile(zone: Zone, key: string, path: string, type?: string) {
    return this.inner.putFile(zone, key, path, type);
  }
  async putBytes(zone: Zone, key: string, body: Uint8Array | string, type?: string, options?: PutOptions) {
    if (key === this.failPut) {
      this.failPut = undefined;
      throw new Error(`injected failure writing ${key}`);
    }
    return this.inner.putBytes(zone, key, body, type, options);
  }
  putStream(zone: Zone, key: string, body: AsyncIterable<Uint8Array>, type?: string) {
    return this.inner.putStream(zone, key, body, type);
  }
  getBytes(zone: Zone, key: string) {
    return this.inner.getBytes(zone, key);
  }
  getBytesWithEtag(zone: Zone, key: string) {
    return this.inner.getBytesWithEtag(zone, key);
  }
  deleteIfMatch(zone: Zone, key: string, etag: string) {
    return this.inner.deleteIfMatch(zone, key, etag);
  }
  copy(zone: Zone, fromKey: string, toKey: string) {
    return this.inner.copy(zone, fromKey, toKey);
  }
  getStream(zone: Zone, key: string) {
    return this.inner.getStream(zone, key);
  }
  head(zone: Zone, key: string) {
    return this.inner.head(zone, key);
  }
  listVersions(zone: Zone, prefix: string) {
    return this.inner.listVersions(zone, prefix);
  }
  open(zone: Zone, key: string, options?: OpenOptions) {
    return this.inner.open(zone, key, options);
  }
  list(zone: Zone, prefix: string) {
    return this.inner.list(zone, prefix);
  }
  async delete(zone: Zone, keys: readonly string[]) {
    const locations = await this.partitionLocations();
    const referenced = keys.filter((k) => locations.some((l) => `s3://${this.goldBucket}/${k}`.startsWith(l)));
    if (referenced.length > 0) throw new Error(`deleting objects a partition points at: ${referenced.join(', ')}`);
    this.deleted.push(...keys);
    return this.inner.delete(zone, keys);
  }
}

function manifest(sourceId: string, runId: string, months: string[]): Manifest {
  return {
    dataset: 'transactions',
    source_id: sourceId,
    run_id: runId,
    status: 'succeeded',
    partitions: months.map((k) => ({
      values: { year: k.slice(0, 4), month: k.slice(5) },
      prefix: `transactions/year=${k.slice(0, 4)}/month=${k.slice(5)}/`,
      rows: 10,
    })),
  } as unknown as Manifest;
}

(skipReason ? describe.skip : describe)('gold refresh on AWS (moto; Athena execution hand-rolled)', () => {
  const lake = useLake();

  /** The gold-refresh function's template resource: the function with GOLD_BUCKET in its environment. */
  const goldFunction = (fx: LakeFixture) => {
    const fn = Object.values(fx.lake.resources).find(
      (r) =>
        r.Type === 'AWS::Lambda::Function' &&
        (r.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables?.GOLD_BUCKET !==
          undefined,
    );
    if (!fn) throw new Error('no gold-refresh function in the template');
    return { fn, env: (fn.Properties?.Environment as { Variables: Record<string, unknown> }).Variables };
  };

  async function setup(fx: LakeFixture) {
    const buckets = (await fx.clients.s3.send(new ListBucketsCommand({}))).Buckets ?? [];
    const goldBucket = buckets.map((b) => b.Name ?? '').find((n) => n.includes('goldbucket'));
    if (!goldBucket) throw new Error('gold bucket not provisioned');
    const goldDatabase = String(goldFunction(fx).env.GLUE_GOLD_DATABASE);
    const locations = async () => {
      const response = await fx.clients.glue.send(
        new GetPartitionsCommand({ DatabaseName: goldDatabase, TableName: TABLE.name }),
      );
      return (response.Partitions ?? []).map((p) => p.StorageDescriptor?.Location ?? '');
    };
    const partitions = async () => {
      const response = await fx.clients.glue.send(
        new GetPartitionsCommand({ DatabaseName: goldDatabase, TableName: TABLE.name }),
      );
      return Object.fromEntries(
        (response.Partitions ?? []).map((p) => [(p.Values ?? []).join('-'), p.StorageDescriptor]),
      );
    };
    const store = new WatchedStore(
      new S3ObjectStore(fx.clients.s3, { silver: fx.lake.buckets.silver, gold: goldBucket }),
      locations,
      goldBucket,
    );
    const engine = new ScriptedAthena(fx);
    let clock = Date.parse('2024-05-01T00:00:00Z');
    const options = (): AthenaGoldRefreshOptions => ({
      table: ACCOUNT_MONTHLY_BALANCE,
      engine,
      store,
      glue: fx.clients.glue,
      goldDatabase,
      goldBucket,
      now: () => clock,
    });
    const putManifest = (m: Manifest) =>
      fx.clients.s3.send(
        new PutObjectCommand({
          Bucket: fx.lake.buckets.silver,
          Key: `_manifests/transactions/${m.source_id}.json`,
          Body: JSON.stringify(m),
        }),
      );
    return {
      goldBucket,
      goldDatabase,
      store,
      engine,
      options,
      partitions,
      putManifest,
      advance: (ms: number) => (clock += ms),
    };
  }

  const refreshQueue = async (fx: LakeFixture) => {
    const logicalId = Object.entries(fx.lake.resources).find(
      ([, r]) =>
        r.Type === 'AWS::SQS::Queue' && r.Properties?.FifoQueue === true && r.Properties?.RedrivePolicy !== undefined,
    )?.[0];
    if (!logicalId) throw new Error('no FIFO queue with a redrive policy in the template');
    const { QueueUrl } = await fx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: `${logicalId}.fifo` }));
    return { logicalId, url: QueueUrl ?? '' };
  };

  it('a manifest landing in silver reaches the FIFO refresh queue through EventBridge; silver data files do not', async () => {
    const fx = lake();
    const { logicalId: queueLogicalId, url: QueueUrl } = await refreshQueue(fx);

    await fx.clients.s3.send(
      new PutObjectCommand({
        Bucket: fx.lake.buckets.silver,
        Key: 'transactions/year=2024/month=01/part.parquet',
        Body: 'x',
      }),
    );
    await fx.clients.s3.send(
      new PutObjectCommand({ Bucket: fx.lake.buckets.silver, Key: '_manifests/transactions/s1.json', Body: '{}' }),
    );
    const received = await fx.clients.sqs.send(
      new ReceiveMessageCommand({
        QueueUrl,
        MaxNumberOfMessages: 10,
        MessageSystemAttributeNames: ['All'],
        WaitTimeSeconds: 1,
      }),
    );
    const messages = received.Messages ?? [];
    expect(messages).toHaveLength(1);
    expect(messages[0]?.Attributes?.MessageGroupId).toBe('gold-refresh');
    expect(JSON.parse(messages[0]?.Body ?? '{}')).toMatchObject({
      source: 'aws.s3',
      detail: { bucket: { name: fx.lake.buckets.silver }, object: { key: '_manifests/transactions/s1.json' } },
    });

    // The handler's batch logic on the message exactly as delivered: one refresh, no failures.
    let refreshes = 0;
    const event = {
      Records: messages.map((m) => ({
        messageId: m.MessageId,
        body: m.Body,
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${fx.lake.region}:${fx.lake.accountId}:${queueLogicalId}.fifo`,
      })),
    } as unknown as SQSEvent;
    const response = await processGoldRefreshBatch(event, {
      silverBucket: fx.lake.buckets.silver,
      refresh: async () => void (refreshes += 1),
      logger: { info: () => {}, error: () => {} },
    });
    expect(response).toEqual({ batchItemFailures: [] });
    expect(refreshes).toBe(1);
  });

  it('the bundled function, configured as the template says, sends its UNLOAD to Athena in the platform workgroup; an UNLOAD that writes nothing fails the batch and leaves gold untouched', async () => {
    const fx = lake();
    const t = await setup(fx);
    const { fn, env } = goldFunction(fx);
    const athena = new AthenaClient({
      endpoint: fx.lake.endpoint,
      region: fx.lake.region,
      credentials: { accessKeyId: fx.lake.accountId, secretAccessKey: 'moto' },
    });
    await athena.send(new CreateWorkGroupCommand({ Name: String(env.ATHENA_WORKGROUP) }));
    // The template's environment; the two bucket Refs resolved to the buckets the harness created.
    Object.assign(process.env, {
      ...Object.fromEntries(Object.entries(env).filter(([, v]) => typeof v === 'string')),
      SILVER_BUCKET: fx.lake.buckets.silver,
      GOLD_BUCKET: t.goldBucket,
    });
    const assetDir = join(fx.stacks[0]!.assemblyDir, String(fn.Metadata?.['aws:asset:path']));
    assertRunsOnDeclaredNode(String(fn.Properties?.Runtime), 'gold-refresh');
    const bundle = (await import(pathToFileURL(join(assetDir, 'index.mjs')).href)) as {
      handler: (event: unknown, context: unknown) => Promise<unknown>;
    };

    await t.putManifest(manifest('s1', 'r1', ['2024-01']));
    const { logicalId, url } = await refreshQueue(fx);
    const received = await fx.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl: url, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    expect(received.Messages).toHaveLength(1);
    const event = {
      Records: (received.Messages ?? []).map((m) => ({
        messageId: m.MessageId,
        body: m.Body,
        attributes: {},
        eventSource: 'aws:sqs',
        eventSourceARN: `arn:aws:sqs:${fx.lake.region}:${fx.lake.accountId}:${logicalId}.fifo`,
      })),
    };
    const output: string[] = [];
    const invoke = () => captureStdout(output, () => bundle.handler(event, lambdaContext(fx.lake)));
    await expect(invoke()).rejects.toThrow(/wrote no rows for 2024-01, the latest month: refusing to repoint gold/);

    const ids =
      (await athena.send(new ListQueryExecutionsCommand({ WorkGroup: String(env.ATHENA_WORKGROUP) })))
        .QueryExecutionIds ?? [];
    expect(ids).toHaveLength(1);
    const execution = (await athena.send(new GetQueryExecutionCommand({ QueryExecutionId: ids[0] }))).QueryExecution;
    expect(execution?.WorkGroup).toBe(env.ATHENA_WORKGROUP);
    expect(execution?.QueryExecutionContext?.Database).toBe(env.GLUE_SILVER_DATABASE);
    expect(execution?.Query).toMatch(/^UNLOAD \(WITH ranked AS/);
    expect(execution?.Query).toContain(`FROM ${String(env.GLUE_SILVER_DATABASE)}.transactions t`);
    expect(execution?.Query).toMatch(
      new RegExp(`TO 's3://${t.goldBucket}/account_monthly_balance/refresh=[0-9a-f]{16}/'`),
    );
    expect(await t.partitions()).toEqual({});
    expect(await listKeys(fx, t.goldBucket, '_state/')).toEqual([]);
  });

  it('builds, no-ops, refreshes incrementally by repointing partitions, and deletes old prefixes only after the repoint and the grace period', async () => {
    const fx = lake();
    const t = await setup(fx);
    await t.putManifest(manifest('s1', 'r1', ['2024-01', '2024-02']));

    // 1. Full build: one UNLOAD, partitions created at the refresh prefix with the table's SerDe.
    t.engine.unloadMonths = ['2024-01', '2024-02'];
    const first = await refreshGoldAthena(t.options());
    expect(first.plan.kind).toBe('full');
    const id1 = first.plan.refreshId;
    expect(t.engine.statements).toHaveLength(1);
    expect(t.engine.statements[0]).toContain(`TO 's3://${t.goldBucket}/account_monthly_balance/refresh=${id1}/'`);
    expect(t.engine.statements[0]).toContain(
      "WITH (format = 'PARQUET', compression = 'ZSTD', partitioned_by = ARRAY['year', 'month'])",
    );
    expect(t.engine.statements[0]).toContain('FROM silver.transactions t');
    let parts = await t.partitions();
    expect(Object.keys(parts).sort()).toEqual(['2024-01', '2024-02']);
    expect(parts['2024-01']?.Location).toBe(`s3://${t.goldBucket}/${refreshPrefix(TABLE, id1)}year=2024/month=01/`);
    expect(parts['2024-01']?.SerdeInfo?.SerializationLibrary).toBe(
      'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe',
    );
    expect(parts['2024-01']?.Columns?.map((c) => c.Name)).toEqual(TABLE.columns.map((c) => c.name));
    const state = JSON.parse(await getText(fx, t.goldBucket, goldStateKey(TABLE))) as {
      refresh_id: string;
      sources: Record<string, unknown>;
    };
    expect(state.refresh_id).toBe(id1);
    expect(Object.keys(state.sources)).toEqual(['s1']);

    // 2. Nothing new: no statement, nothing moved, nothing deleted.
    const again = await refreshGoldAthena(t.options());
    expect(again.plan.kind).toBe('noop');
    expect(t.engine.statements).toHaveLength(1);
    expect(again.deletedKeys).toEqual([]);

    // 3. A new source in February: probe, UNLOAD of February only, February repointed, January untouched.
    await t.putManifest(manifest('s2', 'r2', ['2024-02']));
    t.engine.probeRows = [{ year: '2024', month: '02' }];
    t.engine.unloadMonths = ['2024-02'];
    const third = await refreshGoldAthena(t.options());
    const id2 = third.plan.refreshId;
    expect(third.plan.kind).toBe('incremental');
    expect(t.engine.statements.slice(1).map((s) => s.split('\n')[0])).toEqual([
      'SELECT DISTINCT o.year, o.month',
      `UNLOAD (WITH ranked AS (`,
    ]);
    parts = await t.partitions();
    expect(parts['2024-01']?.Location).toBe(`s3://${t.goldBucket}/${refreshPrefix(TABLE, id1)}year=2024/month=01/`);
    expect(parts['2024-02']?.Location).toBe(`s3://${t.goldBucket}/${refreshPrefix(TABLE, id2)}year=2024/month=02/`);
    // The replaced February is retired, not deleted: queries planned before the swap may still read it.
    expect(third.deletedKeys).toEqual([]);
    const oldFebruary = `${refreshPrefix(TABLE, id1)}year=2024/month=02/`;
    expect(JSON.parse(await getText(fx, t.goldBucket, retiredKey(TABLE)))).toEqual({
      retired: { [oldFebruary]: '2024-05-01T00:00:00.000Z' },
    });
    expect(await listKeys(fx, t.goldBucket, oldFebruary)).toHaveLength(1);

    // 4. After the grace period the next refresh deletes exactly the old February (WatchedStore: never a referenced key).
    t.advance(31 * 60_000);
    const fourth = await refreshGoldAthena(t.options());
    expect(fourth.plan.kind).toBe('noop');
    expect(fourth.deletedKeys).toEqual([`${oldFebruary}attempt-1.parquet`]);
    expect((await listKeys(fx, t.goldBucket, 'account_monthly_balance/')).sort()).toEqual([
      `${refreshPrefix(TABLE, id1)}year=2024/month=01/attempt-1.parquet`,
      `${refreshPrefix(TABLE, id2)}year=2024/month=02/attempt-2.parquet`,
    ]);
    expect(JSON.parse(await getText(fx, t.goldBucket, retiredKey(TABLE)))).toEqual({ retired: {} });
  });

  it('a retry after a crash before the swap re-runs the UNLOAD into an emptied prefix; after the swap it resumes without one', async () => {
    const fx = lake();
    const t = await setup(fx);
    await t.putManifest(manifest('s1', 'r1', ['2024-01', '2024-02']));
    t.engine.unloadMonths = ['2024-01', '2024-02'];

    // An UNLOAD that wrote nothing (say, silver unreadable) is a failure: nothing repointed, no state written.
    t.engine.unloadMonths = [];
    await expect(refreshGoldAthena(t.options())).rejects.toThrow(/wrote no rows for 2024-02, the latest month/);
    expect(await t.partitions()).toEqual({});
    expect(await listKeys(fx, t.goldBucket, '_state/')).toEqual([]);
    t.engine.unloadMonths = ['2024-01', '2024-02'];

    // Crash between the UNLOAD and the repoint (writing the retired list fails): gold's catalog is untouched.
    t.store.failPut = retiredKey(TABLE);
    await expect(refreshGoldAthena(t.options())).rejects.toThrow(/injected failure/);
    expect(await t.partitions()).toEqual({});
    const retry = await refreshGoldAthena(t.options());
    expect(retry.resumed).toBe(false);
    expect(t.engine.attempt).toBe(3);
    const prefix = refreshPrefix(TABLE, retry.plan.refreshId);
    // The first attempt's output was removed before the second UNLOAD (UNLOAD needs an empty prefix).
    expect((await listKeys(fx, t.goldBucket, prefix)).sort()).toEqual([
      `${prefix}year=2024/month=01/attempt-3.parquet`,
      `${prefix}year=2024/month=02/attempt-3.parquet`,
    ]);

    // Crash after the repoint, before the state is written: the retry finds its prefix referenced and resumes.
    await t.putManifest(manifest('s2', 'r2', ['2024-03']));
    t.engine.probeRows = [];
    t.engine.unloadMonths = ['2024-03'];
    t.store.failPut = goldStateKey(TABLE);
    await expect(refreshGoldAthena(t.options())).rejects.toThrow(/injected failure/);
    const unloads = t.engine.attempt;
    const resumed = await refreshGoldAthena(t.options());
    expect(resumed.resumed).toBe(true);
    expect(t.engine.attempt).toBe(unloads); // no second UNLOAD
    expect(Object.keys(await t.partitions()).sort()).toEqual(['2024-01', '2024-02', '2024-03']);
    const state = JSON.parse(await getText(fx, t.goldBucket, goldStateKey(TABLE))) as {
      refresh_id: string;
      last_month: string;
    };
    expect(state).toMatchObject({ refresh_id: resumed.plan.refreshId, last_month: '2024-03' });
  });
});
