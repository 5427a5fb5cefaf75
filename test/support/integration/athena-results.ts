import { AthenaClient, CreateWorkGroupCommand } from '@aws-sdk/client-athena';
import type { ColumnInfo, Row } from '@aws-sdk/client-athena';
import type { LakeUnderTest } from './provision.ts';

/** One query's answer as moto hands it out: a header row, then the data rows. */
export interface SeededResult {
  rows: Row[];
  column_info: Array<Partial<ColumnInfo> & Pick<ColumnInfo, 'Name' | 'Type'>>;
}

/** A one-column answer: its header, then one row per value. */
export const singleColumn = (name: string, type: string, values: readonly string[]): SeededResult => ({
  rows: [name, ...values].map((v) => ({ Data: [{ VarCharValue: v }] })),
  column_info: [{ Name: name, Type: type }],
});

/**
 * moto runs no SQL: it creates the workgroups and answers the next queries, in order, with results seeded through
 * its API. Throws when moto refuses the seed, so a test never runs against an unseeded emulator.
 */
export async function seedAthena(
  lake: Pick<LakeUnderTest, 'endpoint' | 'region' | 'accountId'>,
  workgroups: readonly string[],
  results: readonly SeededResult[],
): Promise<void> {
  const athena = new AthenaClient({
    endpoint: lake.endpoint,
    region: lake.region,
    credentials: { accessKeyId: lake.accountId, secretAccessKey: 'moto' },
  });
  for (const name of workgroups) await athena.send(new CreateWorkGroupCommand({ Name: name }));
  if (results.length === 0) return;
  const seeded = await fetch(`${lake.endpoint}/moto-api/static/athena/query-results`, {
    method: 'POST',
    body: JSON.stringify({ account_id: lake.accountId, region: lake.region, results }),
  });
  if (seeded.status !== 201) throw new Error(`moto refused the seeded Athena results: HTTP ${seeded.status}`);
}
