/**
 * The `lake` CLI in AWS mode against the emulated lake (provisioned from the synthesized template): uploads to
 * bronze that the bundled function then ingests, replays that rewrite the same outputs, the dead-letter queue
 * redrive, stack outputs from CloudFormation, and Athena queries (moto serves seeded results).
 */
import { CloudFormationClient, CreateStackCommand } from '@aws-sdk/client-cloudformation';
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { SendMessageCommand } from '@aws-sdk/client-sqs';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { writeTransactionsCsv } from '../../generator/generate.ts';
import { lake as runLake, startLake, type CliResult } from '../support/e2e/cli.ts';
import { seedAthena } from '../support/integration/athena-results.ts';
import { emulatorEnv, stackOutputsOf, STACK, WORKGROUPS } from '../support/integration/aws-cli.ts';
import { startFaultProxy } from '../support/integration/fault-proxy.ts';
import {
  drain,
  getManifests,
  listKeys,
  queueDepth,
  silverRows,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

/** Runs the CLI in AWS mode with the stack outputs in a `cdk deploy --outputs-file` file. */
function cli(fx: LakeFixture, args: string[]): Promise<CliResult> {
  const file = join(fx.scratchDir, 'outputs.json');
  writeFileSync(file, JSON.stringify({ [STACK]: stackOutputsOf(fx) }));
  return runLake([...args, '--aws', '--stack', STACK, '--outputs-file', file], {
    cwd: fx.scratchDir,
    env: emulatorEnv(fx),
  });
}

/** Runs the CLI while playing the event source mapping: the queue is drained into the bundled function until the CLI exits. */
async function cliWhileDraining(fx: LakeFixture, args: string[]): Promise<CliResult & { drained: number }> {
  const file = join(fx.scratchDir, 'outputs.json');
  writeFileSync(file, JSON.stringify({ [STACK]: stackOutputsOf(fx) }));
  const child = startLake([...args, '--aws', '--stack', STACK, '--outputs-file', file], {
    cwd: fx.scratchDir,
    env: emulatorEnv(fx),
  });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const started = performance.now();
  let done = false;
  const exit = new Promise<number | null>((resolve) => child.on('close', (code) => ((done = true), resolve(code))));
  let drained = 0;
  while (!done) {
    drained += (await drain(fx)).length;
    await new Promise((r) => setTimeout(r, 200));
  }
  drained += (await drain(fx)).length; // what the CLI sent just before it exited
  return { code: await exit, stdout, stderr, ms: performance.now() - started, drained };
}

(skipReason ? describe.skip : describe)('lake CLI, AWS mode, against the emulated lake', () => {
  const lake = useLake();

  it('ingest --aws --wait: uploads to bronze, the function ingests it, the CLI reports its manifest', async () => {
    const fx = lake();
    const report = await writeTransactionsCsv(join(fx.scratchDir, 'jan.csv'), {
      rows: 300,
      accounts: 3,
      from: '2024-01',
      to: '2024-01',
      badRowRatio: 0.05,
    });
    const r = await cliWhileDraining(fx, ['ingest', join(fx.scratchDir, 'jan.csv'), '--wait', '--timeout', '60']);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toContain(`↑ s3://${fx.lake.buckets.bronze}/transactions/jan.csv`);
    expect(r.stdout).toMatch(
      new RegExp(`✓ transactions/jan\\.csv\\s+300 rows: ${report.validRows} valid, ${report.badRows} quarantined`),
    );
    expect(r.drained).toBeGreaterThan(0);
    const head = await fx.clients.s3.send(
      new HeadObjectCommand({ Bucket: fx.lake.buckets.bronze, Key: 'transactions/jan.csv' }),
    );
    expect(head.Metadata?.['content-md5-hex']).toMatch(/^[0-9a-f]{32}$/);

    // The same bytes again: nothing is uploaded. Other bytes under the same name: refused.
    const again = await cli(fx, ['ingest', join(fx.scratchDir, 'jan.csv')]);
    expect(again.code).toBe(0);
    expect(again.stdout).toMatch(/= s3:\/\/.*transactions\/jan\.csv .*\(already in bronze\)/);
    mkdirSync(join(fx.scratchDir, 'v2'), { recursive: true });
    await writeTransactionsCsv(join(fx.scratchDir, 'v2', 'jan.csv'), {
      rows: 10,
      accounts: 3,
      from: '2024-01',
      to: '2024-01',
      seed: 9,
    });
    const conflict = await cli(fx, ['ingest', join(fx.scratchDir, 'v2', 'jan.csv')]);
    expect(conflict.code).toBe(2);
    expect(conflict.stderr).toMatch(/error: s3:\/\/.*\/transactions\/jan\.csv already holds different content/);
  });

  it('ingest --aws as a producer that may only put (HEAD refused, 403): uploads create-only, and refuses a taken name', async () => {
    const fx = lake();
    // moto enforces no IAM: a proxy answers every HEAD of bronze with 403, as S3 does for a grantProducerWrite role.
    const proxy = await startFaultProxy(fx.lake.endpoint);
    proxy.setRule((req) =>
      req.method === 'HEAD' && (req.url ?? '').includes('/transactions/') ? { status: 403, body: '' } : undefined,
    );
    try {
      const asProducer = (path: string) => {
        const file = join(fx.scratchDir, 'outputs.json');
        writeFileSync(file, JSON.stringify({ [STACK]: stackOutputsOf(fx) }));
        return runLake(['ingest', path, '--aws', '--stack', STACK, '--outputs-file', file], {
          cwd: fx.scratchDir,
          env: { ...emulatorEnv(fx), AWS_ENDPOINT_URL: proxy.endpoint },
        });
      };
      await writeTransactionsCsv(join(fx.scratchDir, 'feb.csv'), {
        rows: 20,
        accounts: 2,
        from: '2024-02',
        to: '2024-02',
      });
      const first = await asProducer(join(fx.scratchDir, 'feb.csv'));
      expect(first.code, first.stderr).toBe(0);
      expect(first.stdout).toContain(`↑ s3://${fx.lake.buckets.bronze}/transactions/feb.csv`);
      mkdirSync(join(fx.scratchDir, 'other'), { recursive: true });
      await writeTransactionsCsv(join(fx.scratchDir, 'other', 'feb.csv'), {
        rows: 5,
        accounts: 2,
        from: '2024-02',
        to: '2024-02',
        seed: 3,
      });
      const taken = await asProducer(join(fx.scratchDir, 'other', 'feb.csv'));
      expect(taken.code, taken.stdout).toBe(2);
      expect(taken.stderr).toMatch(
        /transactions\/feb\.csv already holds an object \(maybe this very upload.*\), which this identity may not read to compare/,
      );
      expect(proxy.faulted.filter((f) => f.method === 'HEAD').length).toBeGreaterThanOrEqual(3);
      const versions = await listKeys(fx, fx.lake.buckets.bronze, 'transactions/feb.csv');
      expect(versions).toEqual(['transactions/feb.csv']); // the first upload's object, not overwritten
    } finally {
      await proxy.close();
    }
  });

  it('replay --aws re-announces the current versions; the function rewrites the same outputs (no duplicates)', async () => {
    const fx = lake();
    for (const m of ['01', '02'])
      await writeTransactionsCsv(join(fx.scratchDir, `2024-${m}.csv`), {
        rows: 200,
        accounts: 3,
        from: `2024-${m}`,
        to: `2024-${m}`,
        firstId: Number(m) * 1000,
      });
    const first = await cliWhileDraining(fx, [
      'ingest',
      join(fx.scratchDir, '2024-01.csv'),
      join(fx.scratchDir, '2024-02.csv'),
      '--wait',
    ]);
    expect(first.code, first.stderr).toBe(0);
    const manifestsBefore = await getManifests(fx, 'transactions');
    const rowsBefore = await silverRows(fx, 'transactions');
    const silverKeysBefore = await listKeys(fx, fx.lake.buckets.silver, 'transactions/');

    const dry = await cli(fx, ['replay', '--dry-run', '--prefix', 'transactions/2024-02']);
    expect(dry.stdout).toMatch(
      /^Would re-send 1 event \([^)]+ of bronze objects\):\n {2}transactions\/2024-02\.csv\n$/,
    );

    const replay = await cliWhileDraining(fx, ['replay', '--dataset', 'transactions']);
    expect(replay.code, replay.stderr).toBe(0);
    expect(replay.stdout).toMatch(/Re-sent 2 events .* to the ingest queue/);
    expect(replay.drained).toBeGreaterThan(0);
    const manifestsAfter = await getManifests(fx, 'transactions');
    expect(manifestsAfter.map((m) => [m.source_id, m.rows_valid])).toEqual(
      manifestsBefore.map((m) => [m.source_id, m.rows_valid]),
    );
    expect(await listKeys(fx, fx.lake.buckets.silver, 'transactions/')).toEqual(silverKeysBefore);
    expect(await silverRows(fx, 'transactions')).toEqual(rowsBefore);
  });

  it('dlq status and dlq redrive --aws: receive, send, delete — the messages go back to the ingest queue', async () => {
    const fx = lake();
    for (const i of [1, 2, 3])
      await fx.clients.sqs.send(
        new SendMessageCommand({ QueueUrl: fx.lake.deadLetterQueue.url, MessageBody: `{"poison":${i}}` }),
      );
    const status = await cli(fx, ['dlq', 'status', '--json']);
    expect(status.code).toBe(0);
    expect(JSON.parse(status.stdout).dead_letter_queue.visible).toBe(3);

    const redrive = await cli(fx, ['dlq', 'redrive', '--max', '2']);
    expect(redrive.code).toBe(0);
    expect(redrive.stdout).toBe('Moved 2 messages from the dead-letter queue back to the ingest queue.\n');
    const rest = await cli(fx, ['dlq', 'redrive', '--json']);
    expect(JSON.parse(rest.stdout).moved).toBe(1);
    expect(await queueDepth(fx, fx.lake.deadLetterQueue.url)).toEqual({ visible: 0, inFlight: 0 });
    expect((await queueDepth(fx, fx.lake.queue.url)).visible).toBe(3);
    const empty = await cli(fx, ['dlq', 'redrive']);
    expect(empty.stdout).toBe('The dead-letter queue is empty: nothing to move.\n');
  });

  it('finds the lake by stack name through CloudFormation, and explains a stack that does not exist', async () => {
    const fx = lake();
    const cfn = new CloudFormationClient({
      endpoint: fx.lake.endpoint,
      region: fx.lake.region,
      credentials: { accessKeyId: fx.lake.accountId, secretAccessKey: 'moto' },
    });
    const outputs = Object.fromEntries(Object.entries(stackOutputsOf(fx)).map(([k, v]) => [k, { Value: v }]));
    await cfn.send(
      new CreateStackCommand({
        StackName: STACK,
        TemplateBody: JSON.stringify({
          Resources: { Marker: { Type: 'AWS::SQS::Queue', Properties: { QueueName: 'medallion-it-marker' } } },
          Outputs: outputs,
        }),
      }),
    );
    const env = emulatorEnv(fx);
    const found = await runLake(['dlq', 'status', '--aws', '--stack', STACK], { cwd: fx.scratchDir, env });
    expect(found.code, found.stderr).toBe(0);
    expect(found.stdout).toMatch(/dead-letter queue\s+0 waiting/);
    const missing = await runLake(['dlq', 'status', '--aws', '--stack', 'NoSuchStack'], { cwd: fx.scratchDir, env });
    expect(missing.code).toBe(2);
    expect(missing.stderr).toMatch(/error: no stack named NoSuchStack in this account and region/);
  });

  it('query --aws runs in the analysts workgroup with the stage databases, and reports rows and bytes scanned', async () => {
    const fx = lake();
    // moto never executes SQL: it answers with results seeded through its API.
    await seedAthena(fx.lake, Object.values(WORKGROUPS), [
      {
        rows: [
          { Data: [{ VarCharValue: 'account_id' }, { VarCharValue: 'n' }, { VarCharValue: 'balance' }] },
          { Data: [{ VarCharValue: 'ACC001' }, { VarCharValue: '3' }, { VarCharValue: '326.00' }] },
          { Data: [{ VarCharValue: 'ACC002' }, { VarCharValue: '1' }, {}] },
        ],
        column_info: [
          {
            Name: 'account_id',
            Type: 'varchar',
            CatalogName: 'hive',
            SchemaName: '',
            TableName: '',
            Label: 'account_id',
            Precision: 0,
            Scale: 0,
            Nullable: 'UNKNOWN',
            CaseSensitive: true,
          },
          {
            Name: 'n',
            Type: 'bigint',
            CatalogName: 'hive',
            SchemaName: '',
            TableName: '',
            Label: 'n',
            Precision: 0,
            Scale: 0,
            Nullable: 'UNKNOWN',
            CaseSensitive: false,
          },
          {
            Name: 'balance',
            Type: 'decimal',
            CatalogName: 'hive',
            SchemaName: '',
            TableName: '',
            Label: 'balance',
            Precision: 38,
            Scale: 2,
            Nullable: 'UNKNOWN',
            CaseSensitive: false,
          },
        ],
      },
    ]);
    const r = await cli(fx, [
      'query',
      '--sql',
      'SELECT account_id, count(*) AS n, sum(amount) AS balance FROM silver.transactions GROUP BY 1',
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([
      { account_id: 'ACC001', n: 3, balance: '326.00' },
      { account_id: 'ACC002', n: 1, balance: null },
    ]);
    expect(r.stderr).toMatch(/\(2 rows, .* scanned\)/);
  });
});
