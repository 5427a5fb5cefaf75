/**
 * `lake erase --aws` by a `hash` PII column, and gold after an erasure on AWS, against the emulator.
 *
 * Hash: a lake whose contract hashes `account_id`, filled through the engine as the ingest function does it
 * (the salt read from a Secrets Manager secret with the function's own resolvePiiSalt); the operator passes
 * the raw value and the secret's ARN, the command hashes it with that salt and removes exactly that account.
 *
 * Gold: the erasure rewrites the manifests under `_manifests/`, whose object events reach the gold-refresh
 * FIFO queue through EventBridge (the template's rule); the refresh planned from those manifests and the gold
 * state before the erasure recomputes the erased months (moto's Athena runs no SQL: the plan is what the
 * function would UNLOAD).
 */
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetQueueUrlCommand, PurgeQueueCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import { HeadObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, it } from '@jest/globals';
import { expect } from '../support/expect.ts';
import { GlueCatalog } from '../../adapters/aws/glue-catalog.ts';
import { S3ObjectStore } from '../../adapters/aws/s3-store.ts';
import { loadContracts } from '../../engine/contract/index.ts';
import { planGoldRefresh } from '../../engine/gold/index.ts';
import { ingestObject } from '../../engine/index.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../datasets/index.ts';
import { writeTransactionsCsv, type GenerationReport } from '../../generator/generate.ts';
import { resolvePiiSalt } from '../../lambdas/ingest/pii-salt.ts';
import { awsCli } from '../support/integration/aws-cli.ts';
import { ingestProducerFiles } from '../support/integration/producer-files.ts';
import {
  getManifests,
  putBronze,
  silverRows,
  skipReason,
  useLake,
  type LakeFixture,
} from '../support/integration/lake-fixture.ts';

/** A contracts directory whose transactions contract hashes `account_id`. */
async function hashingContracts(fx: LakeFixture): Promise<string> {
  const dir = join(fx.scratchDir, 'contracts-hashing');
  await mkdir(dir, { recursive: true });
  const raw = JSON.parse(await readFile(join(process.cwd(), 'contracts', 'transactions.json'), 'utf8')) as {
    columns: Array<{ name: string; pii?: string }>;
  };
  raw.columns = raw.columns.map((c) => (c.name === 'account_id' ? { ...c, pii: 'hash' } : c));
  await writeFile(join(dir, 'transactions.json'), JSON.stringify(raw, null, 2));
  return dir;
}

(skipReason ? describe.skip : describe)('lake erase --aws: hash PII columns, and gold afterwards', () => {
  const lake = useLake();

  it('erases by a hash PII column from the raw value, hashed with the salt the ingest function reads', async () => {
    const fx = lake();
    const contractsDir = await hashingContracts(fx);
    const contracts = loadContracts(contractsDir);
    const secrets = () =>
      new SecretsManagerClient({
        endpoint: fx.lake.endpoint,
        region: fx.lake.region,
        credentials: { accessKeyId: fx.lake.accountId, secretAccessKey: 'moto' },
      });
    const { ARN } = await secrets().send(
      new CreateSecretCommand({ Name: 'medallion-it-pii-salt', SecretString: 'salt-of-the-it-lake-0123456789' }),
    );
    const secretArn = ARN ?? '';
    const salt = await resolvePiiSalt(contracts, secretArn, secrets);
    const store = new S3ObjectStore(fx.clients.s3, {
      bronze: fx.lake.buckets.bronze,
      silver: fx.lake.buckets.silver,
      quarantine: fx.lake.buckets.quarantine,
    });
    let report: GenerationReport | undefined;
    for (let i = 0; i < 2; i++) {
      const path = join(fx.scratchDir, `hashed-${i}.csv`);
      report = await writeTransactionsCsv(path, {
        rows: 90,
        accounts: 3,
        from: '2024-01',
        to: '2024-02',
        firstId: i * 10_000,
        seed: 3 + i,
        badRowRatio: 0,
      });
      const key = `transactions/hashed-${i}.csv`;
      await putBronze(fx, key, await readFile(path));
      const head = await fx.clients.s3.send(new HeadObjectCommand({ Bucket: fx.lake.buckets.bronze, Key: key }));
      await ingestObject(
        {
          bucket: fx.lake.buckets.bronze,
          key,
          versionId: head.VersionId,
          etag: head.ETag,
          lastModified: head.LastModified,
        },
        await store.getStream('bronze', key),
        {
          contracts,
          store,
          catalog: new GlueCatalog(fx.clients.glue, {
            database: fx.lake.glue.silverDatabase,
            bucket: fx.lake.buckets.silver,
          }),
          piiSalt: salt,
          workDir: join(fx.scratchDir, 'ingest'),
        },
      );
    }
    const account = (report as GenerationReport).accounts[0] as string;
    const hashed = createHash('sha256').update(`${salt}${account}`).digest('hex');
    const before = await silverRows(fx, 'transactions');
    expect(before.some((r) => r.account_id === account)).toBe(false); // silver holds only hashes
    const matching = before.filter((r) => r.account_id === hashed).length;
    expect(matching).toBeGreaterThan(0);
    const env = { LAKE_CONTRACTS_DIR: contractsDir };
    const where = `account_id = '${account}'`;

    const unsalted = await awsCli(fx, ['erase', '--dataset', 'transactions', '--where', where], env);
    expect(unsalted.code).toBe(2);
    expect(unsalted.stderr).toMatch(/names a hash PII column/);
    expect(unsalted.stderr).toMatch(/--pii-salt-secret/);

    const r = await awsCli(
      fx,
      ['erase', '--dataset', 'transactions', '--where', where, '--pii-salt-secret', secretArn, '--json'],
      env,
    );
    expect(r.code, r.stderr).toBe(0);
    const record = JSON.parse(r.stdout) as {
      rows_removed: { silver: number };
      predicate: { column: string; pii: string; value_hash_algorithm: string };
    };
    expect(record.rows_removed.silver).toBe(matching);
    expect(record.predicate).toMatchObject({ column: 'account_id', pii: 'hash' });
    expect(record.predicate.value_hash_algorithm).toMatch(/^hmac-sha256\(pii salt/);
    expect(r.stdout).not.toContain(account);
    expect(r.stdout).not.toContain(hashed);
    const after = await silverRows(fx, 'transactions');
    expect(after.map((x) => JSON.stringify(x))).toEqual(
      before.filter((x) => x.account_id !== hashed).map((x) => JSON.stringify(x)),
    );
  });

  it('gold after an erasure on AWS: the rewritten manifests reach the gold-refresh queue, and the refresh they start recomputes the erased months', async () => {
    const fx = lake();
    await ingestProducerFiles(fx, { count: 2, rows: 100, from: '2024-01', to: '2024-03', seed: 21 });
    const manifestsBefore = await getManifests(fx, 'transactions');
    // Gold as the refresh left it after these ingests.
    const goldState = planGoldRefresh({
      manifests: manifestsBefore,
      state: undefined,
      table: ACCOUNT_MONTHLY_BALANCE,
    }).nextState;
    expect(planGoldRefresh({ manifests: manifestsBefore, state: goldState, table: ACCOUNT_MONTHLY_BALANCE }).kind).toBe(
      'noop',
    );

    const queueLogicalId = Object.entries(fx.lake.resources).find(
      ([, res]) =>
        res.Type === 'AWS::SQS::Queue' &&
        res.Properties?.FifoQueue === true &&
        res.Properties?.RedrivePolicy !== undefined,
    )?.[0];
    const { QueueUrl } = await fx.clients.sqs.send(new GetQueueUrlCommand({ QueueName: `${queueLogicalId}.fifo` }));
    await fx.clients.sqs.send(new PurgeQueueCommand({ QueueUrl }));

    const rows = await silverRows(fx, 'transactions');
    const account = String(rows.find((x) => String(x.transaction_timestamp).startsWith('2024-02'))?.account_id);
    // An ingest that passed its lease check just before the erasure took the lease: still publishing.
    await fx.clients.s3.send(
      new PutObjectCommand({
        Bucket: fx.lake.buckets.silver,
        Key: '_pending/transactions/0123456789abcdef01234567.json',
        Body: JSON.stringify({ dataset: 'transactions', run_id: 'r', source: { key: 'transactions/late.csv' } }),
      }),
    );
    const r = await awsCli(fx, [
      'erase',
      '--dataset',
      'transactions',
      '--where',
      `account_id = '${account}'`,
      '--json',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(
      /1 ingest of transactions was in flight when the erasure started \(silver\/_pending\/transactions\/: transactions\/late\.csv\): run this erasure again/,
    );
    const record = JSON.parse(r.stdout) as { months: string[]; rows_removed: { silver: number } };
    expect(record.rows_removed.silver).toBe(rows.filter((x) => x.account_id === account).length);
    expect(record.months.length).toBeGreaterThan(0);

    const received = await fx.clients.sqs.send(
      new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }),
    );
    const keys = (received.Messages ?? []).map(
      (m) => (JSON.parse(m.Body ?? '{}') as { detail?: { object?: { key?: string } } }).detail?.object?.key,
    );
    expect(keys.length).toBeGreaterThan(0);
    for (const k of keys) expect(k).toMatch(/^_manifests\/transactions\//);

    const plan = planGoldRefresh({
      manifests: await getManifests(fx, 'transactions'),
      state: goldState,
      supersededMonths: [],
      table: ACCOUNT_MONTHLY_BALANCE,
    });
    expect(plan.kind).not.toBe('noop');
    expect(plan.months[0]! <= (record.months[0] as string)).toBe(true);
    for (const m of record.months) expect(plan.months).toContain(m);
  });
});
