import { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import {
  loadContracts,
  partitionColumns,
  QUARANTINE_COLUMNS,
  silverColumns,
  type TableColumn,
} from '../../engine/contract/index.ts';
import { PARQUET_INPUT_FORMAT, PARQUET_OUTPUT_FORMAT, PARQUET_SERDE } from '../../lib/catalog/lake-table.ts';
import type { TableSpec } from '../../lib/catalog/table-spec.ts';
import { DataLake } from '../../lib/data-lake.ts';
import type { MedallionLakeStack } from '../../lib/medallion-lake-stack.ts';
import {
  logicalId,
  removeSynthOutputs,
  render,
  skipBuiltinTemplateValidation,
  synthLake,
  testApp,
} from '../support/cdk/synth.ts';
import { ACCOUNT_MONTHLY_BALANCE, TRANSACTIONS_LATEST } from '../../datasets/index.ts';

skipBuiltinTemplateValidation();

const contracts = loadContracts().contracts;
const glueColumns = (columns: readonly TableColumn[]) =>
  columns.map((c) => ({ Name: c.name, Type: c.hiveType, Comment: c.comment }));

let stack: MedallionLakeStack;
let template: Template;

beforeAll(() => {
  ({ stack, template } = synthLake({ context: { stage: 'dev' } }));
});
afterAll(removeSynthOutputs);

function tableInput(databaseZone: 'silver' | 'gold' | 'quarantine', name: string): Record<string, unknown> {
  const database = `\${${logicalId(stack.lake.catalog.databases[databaseZone])}}`;
  const tables = Object.values(template.findResources('AWS::Glue::Table')).filter(
    (t) => render(t.Properties.DatabaseName) === database && t.Properties.TableInput.Name === name,
  );
  expect(tables).toHaveLength(1);
  return tables[0]?.Properties.TableInput as Record<string, unknown>;
}

describe('databases', () => {
  it('creates the silver, gold and quarantine databases under the stage prefix', () => {
    template.resourceCountIs('AWS::Glue::Database', 3);
    for (const zone of ['silver', 'gold', 'quarantine']) {
      template.hasResourceProperties('AWS::Glue::Database', {
        CatalogId: { Ref: 'AWS::AccountId' },
        DatabaseInput: { Name: `medallion_dev_${zone}` },
      });
    }
  });

  it('uses no crawler', () => {
    template.resourceCountIs('AWS::Glue::Crawler', 0);
  });
});

describe.each(contracts.map((c) => [c.name, c] as const))('dataset %s', (name, contract) => {
  it('has a silver table whose columns and types are the contract’s', () => {
    const input = tableInput('silver', name) as { StorageDescriptor: { Columns: unknown }; PartitionKeys: unknown };
    expect(input.StorageDescriptor.Columns).toEqual(glueColumns(silverColumns(contract)));
    expect(input.PartitionKeys).toEqual(glueColumns(partitionColumns(contract)));
  });

  it('declares decimals and timestamps as such, and string partition keys', () => {
    const input = tableInput('silver', name) as {
      StorageDescriptor: { Columns: { Name: string; Type: string }[] };
      PartitionKeys: { Type: string }[];
    };
    const types = Object.fromEntries(input.StorageDescriptor.Columns.map((c) => [c.Name, c.Type]));
    for (const column of contract.columns.filter((c) => c.pii === 'none')) {
      if (column.type.kind === 'decimal')
        expect(types[column.name]).toBe(`decimal(${column.type.precision},${column.type.scale})`);
      if (column.type.kind === 'timestamp') expect(types[column.name]).toBe('timestamp');
    }
    expect(new Set(input.PartitionKeys.map((k) => k.Type))).toEqual(
      new Set(contract.partitionBy.length ? ['string'] : []),
    );
  });

  it('is an external Parquet table at s3://<silver bucket>/<dataset>/ without partition projection', () => {
    const input = tableInput('silver', name);
    expect(input).toMatchObject({
      TableType: 'EXTERNAL_TABLE',
      Parameters: { classification: 'parquet', EXTERNAL: 'TRUE' },
      StorageDescriptor: {
        InputFormat: PARQUET_INPUT_FORMAT,
        OutputFormat: PARQUET_OUTPUT_FORMAT,
        SerdeInfo: { SerializationLibrary: PARQUET_SERDE },
      },
    });
    expect(PARQUET_SERDE).toBe('org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe');
    expect(Object.keys(input.Parameters as object).filter((k) => k.startsWith('projection'))).toEqual([]);
    const location = render((input.StorageDescriptor as { Location: unknown }).Location);
    expect(location).toBe(`s3://\${${logicalId(stack.lake.storage.bucket('silver'))}}/${name}/`);
  });

  it('has an unpartitioned quarantine table over the quarantine records prefix', () => {
    const input = tableInput('quarantine', name) as {
      StorageDescriptor: { Columns: unknown; Location: unknown };
      PartitionKeys: unknown;
      TableType: string;
    };
    expect(input.StorageDescriptor.Columns).toEqual(glueColumns(QUARANTINE_COLUMNS));
    expect(input.PartitionKeys).toEqual([]);
    expect(input.TableType).toBe('EXTERNAL_TABLE');
    expect(render(input.StorageDescriptor.Location)).toBe(
      `s3://\${${logicalId(stack.lake.storage.bucket('quarantine'))}}/${name}/records/`,
    );
  });

  it('has a quarantine table for files no contract owns, over its records prefix', () => {
    const input = tableInput('quarantine', 'unknown_dataset') as {
      StorageDescriptor: { Columns: unknown; Location: unknown };
      PartitionKeys: unknown;
    };
    expect(input.StorageDescriptor.Columns).toEqual(glueColumns(QUARANTINE_COLUMNS));
    expect(input.PartitionKeys).toEqual([]);
    expect(render(input.StorageDescriptor.Location)).toBe(
      `s3://\${${logicalId(stack.lake.storage.bucket('quarantine'))}}/unknown_dataset/records/`,
    );
  });
});

describe('tables follow the contracts', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'medallion-contracts-'));
    const contract = (name: string, columns: object[]) =>
      writeFileSync(join(dir, `${name}.json`), JSON.stringify({ name, version: '1', columns }));
    contract('payments', [
      { name: 'payment_id', type: 'string', required: true },
      { name: 'fee', type: 'decimal(10,4)' },
    ]);
    contract('customers', [
      { name: 'customer_id', type: 'string', required: true },
      { name: 'email', type: 'string', pii: 'drop' },
    ]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('creates one silver and one quarantine table per contract file (plus unknown_dataset), and nothing for absent ones', () => {
    const lakeStack = new Stack(testApp(), 'Contracts');
    const lake = new DataLake(lakeStack, 'Lake', { contractsDir: dir, queriesDir: join(dir, 'none') });
    const t = Template.fromStack(lakeStack);
    t.resourceCountIs('AWS::Glue::Table', 5);
    expect(lake.catalog.tables('silver').map((x) => x.tableName)).toEqual(['customers', 'payments']);
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        Name: 'payments',
        StorageDescriptor: {
          Columns: Match.arrayWith([{ Name: 'fee', Type: 'decimal(10,4)', Comment: Match.absent() }]),
        },
      },
    });
    const customers = lake.catalog.table('silver', 'customers');
    expect(customers).toBeDefined();
    t.hasResourceProperties('AWS::Glue::Table', {
      TableInput: {
        Name: 'customers',
        StorageDescriptor: { Columns: Match.not(Match.arrayWith([Match.objectLike({ Name: 'email' })])) },
      },
    });
  });
});

describe('gold tables', () => {
  const balances: TableSpec = {
    name: 'account_monthly_balance',
    description: 'Balance per account and month',
    columns: [
      { name: 'account_id', hiveType: 'string', comment: 'Account' },
      { name: 'closing_balance', hiveType: 'decimal(38,2)', comment: 'Balance at month end' },
    ],
    partitionKeys: [
      { name: 'year', hiveType: 'string', comment: '' },
      { name: 'month', hiveType: 'string', comment: '' },
    ],
    locationPrefix: 'account_monthly_balance/',
  };

  it('come from the goldTables prop and from addTable, in the gold database and bucket', () => {
    const goldStack = new Stack(testApp(), 'Gold');
    const lake = new DataLake(goldStack, 'Lake', { goldTables: [balances], goldViews: [] });
    lake.catalog.addTable('gold', {
      name: 'daily_totals',
      columns: [{ name: 'total', hiveType: 'decimal(38,2)', comment: '' }],
    });
    const t = Template.fromStack(goldStack);
    const gold = Object.values(t.findResources('AWS::Glue::Table')).filter(
      (x) => render(x.Properties.DatabaseName) === `\${${logicalId(lake.catalog.databases.gold)}}`,
    );
    expect(gold.map((x) => x.Properties.TableInput.Name).sort()).toEqual(['account_monthly_balance', 'daily_totals']);
    const goldBucket = logicalId(lake.storage.bucket('gold'));
    expect(gold.map((x) => render(x.Properties.TableInput.StorageDescriptor.Location)).sort()).toEqual([
      `s3://\${${goldBucket}}/account_monthly_balance/`,
      `s3://\${${goldBucket}}/daily_totals/`,
    ]);
  });

  it('rejects duplicate names, overlapping prefixes and names Athena would mangle', () => {
    const lake = new DataLake(new Stack(testApp(), 'Invalid'), 'Lake', { goldTables: [balances] });
    expect(() => lake.catalog.addTable('gold', balances)).toThrow(/already has a table/);
    expect(() =>
      lake.catalog.addTable('gold', { ...balances, name: 'other', locationPrefix: 'account_monthly_balance/x/' }),
    ).toThrow(/overlaps/);
    expect(() => lake.catalog.addTable('gold', { ...balances, name: 'Other' })).toThrow(/lower snake_case/);
    expect(() => lake.catalog.addTable('gold', { ...balances, name: 'x', locationPrefix: '_x/' })).toThrow(
      /must end in/,
    );
    expect(() =>
      lake.catalog.addTable('gold', {
        ...balances,
        name: 'y',
        columns: [{ name: 'Amount', hiveType: 'double', comment: '' }],
      }),
    ).toThrow(/lower snake_case/);
  });

  it('by default come from the analyst layer: the monthly balance table, typed exactly as engine/gold describes it', () => {
    const input = tableInput('gold', ACCOUNT_MONTHLY_BALANCE.name) as {
      TableType: string;
      PartitionKeys: unknown;
      StorageDescriptor: { Columns: unknown; SerdeInfo: { SerializationLibrary: string } };
    };
    expect(input.TableType).toBe('EXTERNAL_TABLE');
    expect(input.StorageDescriptor.Columns).toEqual(glueColumns(ACCOUNT_MONTHLY_BALANCE.columns));
    expect(input.PartitionKeys).toEqual(glueColumns(ACCOUNT_MONTHLY_BALANCE.partitionKeys));
    expect(input.StorageDescriptor.SerdeInfo.SerializationLibrary).toBe(PARQUET_SERDE);
  });

  it('registers gold views as Athena stores them: VIRTUAL_VIEW with a Presto view definition on the stage databases', () => {
    const input = tableInput('gold', TRANSACTIONS_LATEST.name) as {
      TableType: string;
      Parameters: Record<string, string>;
      ViewOriginalText: string;
    };
    expect(input.TableType).toBe('VIRTUAL_VIEW');
    expect(input.Parameters).toEqual({
      presto_view: 'true',
      comment: 'Presto View',
      description: TRANSACTIONS_LATEST.description.slice(0, 512),
    });
    expect(input).not.toHaveProperty('Description'); // it would become the table comment, which must read 'Presto View'
    const encoded = /^\/\* Presto View: (.+) \*\/$/.exec(input.ViewOriginalText)?.[1] ?? '';
    const definition = JSON.parse(Buffer.from(encoded, 'base64').toString('utf8')) as {
      originalSql: string;
      schema: string;
      columns: { name: string }[];
    };
    const names = stack.lake.catalog.databaseNames;
    expect(definition.schema).toBe(names.gold);
    expect(definition.originalSql).toContain(`${names.silver}.transactions`);
    expect(definition.originalSql).not.toMatch(/\bsilver\.transactions/);
    expect(definition.columns.map((c) => c.name)).toEqual(TRANSACTIONS_LATEST.columns.map((c) => c.name));
  });

  it('keep tables when the stage does not allow destruction', () => {
    const prod = synthLake({ context: { stage: 'prod' } });
    prod.template.allResources('AWS::Glue::Table', { DeletionPolicy: 'Retain' });
    prod.template.allResources('AWS::Glue::Database', { DeletionPolicy: 'Retain' });
  });
});
