/**
 * An additive contract change on the deployed lake, read on Trino (Athena engine v3's base) over the emulator's
 * Glue: files written under contract 1.0.0 and under 1.1.0 (a new nullable column, a wider decimal) read
 * together, the old rows with NULL in the new column; the deploy's table update reaches the old partitions
 * through the ingest function (a fresh runtime with the new contract repairs them when it registers its own).
 */
import { GetTableCommand, UpdateTableCommand } from '@aws-sdk/client-glue';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { inject } from '../support/provided.ts';
import { judgeContractEvolution, parseContract, silverColumns } from '../../engine/index.ts';
import { invokeInChild } from '../support/integration/child-invoke.ts';
import { drain, gluePartitions, putBronze, skipReason, useLake } from '../support/integration/lake-fixture.ts';
import { receive, sqsEventFrom } from '../support/integration/lambda-runtime.ts';
import {
  ensureTrino,
  startTrino,
  trinoJavaHome,
  trinoQuery,
  type RunningTrino,
} from '../support/integration/trino-server.ts';

const java = trinoJavaHome();
const HEADER = 'TransactionID,CustomerID,TransactionAmount,Currency,TransactionTimestamp';

(skipReason || java.reason ? describe.skip : describe)(
  'an additive contract change on Trino over the emulated Glue catalog',
  () => {
    const lake = useLake();
    let trino: RunningTrino | undefined;
    let scratch: string;

    beforeAll(async () => {
      const fx = lake();
      const serverDir = await ensureTrino((line) => console.log(`[trino] ${line}`));
      trino = await startTrino({
        serverDir,
        javaHome: java.home as string,
        motoEndpoint: inject('motoEndpoint'),
        region: fx.lake.region,
        accountId: fx.lake.accountId,
      });
      scratch = mkdtempSync(join(tmpdir(), 'evolution-it-'));
    }, 300_000);
    afterAll(() => {
      trino?.stop();
      if (scratch) rmSync(scratch, { recursive: true, force: true });
    });

    it('old partitions get the new column, old rows read NULL in it, every row names its contract version', async () => {
      const fx = lake();
      const database = fx.lake.glue.silverDatabase;
      // 1. Contract 1.0.0 (the deployed function's): January.
      await putBronze(
        fx,
        'transactions/v1/jan.csv',
        [HEADER, 'T1,C1,10.50,EUR,2024-01-15T10:00:00Z'].join('\n') + '\n',
      );
      expect((await drain(fx)).flatMap((i) => i.failed)).toEqual([]);

      // 2. The additive change, 1.1.0: a nullable `channel`. The gate accepts it as minor.
      const deployedDir = join(fx.lake.fn.assetDir, 'contracts');
      const v1Doc = JSON.parse(readFileSync(join(deployedDir, 'transactions.json'), 'utf8')) as {
        version: string;
        columns: Record<string, unknown>[];
      };
      const widened = v1Doc.columns.map((c) => (c.name === 'amount' ? { ...c, type: 'decimal(20,2)' } : c));
      const v2Doc = {
        ...v1Doc,
        version: '1.1.0',
        columns: [
          ...widened,
          { name: 'channel', type: 'string', aliases: ['Channel'], description: 'Booking channel' },
        ],
      };
      const v1 = parseContract(v1Doc, 'transactions.json');
      const v2 = parseContract(v2Doc, 'transactions.json');
      expect(judgeContractEvolution(v1, v2, false)).toMatchObject({ required: 'minor', problems: [] });
      const v2Dir = join(scratch, 'contracts');
      cpSync(deployedDir, v2Dir, { recursive: true });
      writeFileSync(join(v2Dir, 'transactions.json'), JSON.stringify(v2Doc));

      // 3. The deploy: CloudFormation updates the Glue table from the contract (silverColumns), not its partitions.
      const { Table } = await fx.clients.glue.send(
        new GetTableCommand({ DatabaseName: database, Name: 'transactions' }),
      );
      const columns = silverColumns(v2).map((c) => ({ Name: c.name, Type: c.hiveType, Comment: c.comment }));
      await fx.clients.glue.send(
        new UpdateTableCommand({
          DatabaseName: database,
          TableInput: {
            Name: 'transactions',
            TableType: Table?.TableType,
            Parameters: Table?.Parameters,
            PartitionKeys: Table?.PartitionKeys,
            StorageDescriptor: { ...Table?.StorageDescriptor, Columns: columns },
          },
        }),
      );
      const january = () =>
        gluePartitions(fx, 'transactions').then((ps) => ps.find((p) => p.Values?.join('-') === '2024-01'));
      expect((await january())?.StorageDescriptor?.Columns?.map((c) => c.Name)).not.toContain('channel');
      // Trino 476 already reads the old partition under the new table (it coerces decimal(18,2) to (20,2) and
      // fills a missing trailing column with NULL), so its answers alone cannot show the repair: the Glue
      // partitions below do. Athena documents HIVE_PARTITION_SCHEMA_MISMATCH for partitions whose types differ.
      const beforeRepair = await trinoQuery(
        (trino as RunningTrino).url,
        `SELECT transaction_id, CAST(amount AS varchar), channel, contract_version FROM ${database}.transactions`,
      );
      expect(beforeRepair.rows).toEqual([['T1', '10.50', null, '1.0.0']]);

      // 4. The new function version (a fresh runtime with contract 1.1.0) ingests February.
      await putBronze(
        fx,
        'transactions/v2/feb.csv',
        [`${HEADER},Channel`, 'T2,C2,-3.25,USD,2024-02-01T08:00:00Z,app'].join('\n') + '\n',
      );
      const messages = await receive(fx.clients.sqs, fx.lake.queue.url, 10, 1);
      expect(messages).toHaveLength(1);
      const result = await invokeInChild(fx, sqsEventFrom(fx.lake, messages), { CONTRACTS_DIR: v2Dir });
      expect(result.error).toBeUndefined();
      expect(result.response).toEqual({ batchItemFailures: [] });

      // 5. Every partition now has the table's columns — January's included, its location unchanged.
      const partitions = await gluePartitions(fx, 'transactions');
      expect(
        partitions.map((p) => [p.Values?.join('-'), p.StorageDescriptor?.Columns?.map((c) => c.Name).join(',')]),
      ).toEqual([
        ['2024-01', columns.map((c) => c.Name).join(',')],
        ['2024-02', columns.map((c) => c.Name).join(',')],
      ]);
      expect((await january())?.StorageDescriptor?.Location).toBe(
        `s3://${fx.lake.buckets.silver}/transactions/year=2024/month=01/`,
      );

      // 6. Trino reads both files through Glue.
      const url = (trino as RunningTrino).url;
      const rows = await trinoQuery(
        url,
        `SELECT transaction_id, CAST(amount AS varchar), channel, contract_version, month FROM ${database}.transactions ORDER BY transaction_id`,
      );
      expect(rows.rows).toEqual([
        ['T1', '10.50', null, '1.0.0', '01'],
        ['T2', '-3.25', 'app', '1.1.0', '02'],
      ]);
    }, 300_000);
  },
);
