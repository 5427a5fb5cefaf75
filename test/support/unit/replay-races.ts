/**
 * Races of replays of one source (test/unit/engine/publish-retry.test.ts, removal-marks.test.ts): contracts that
 * differ in what they accept, producer files, and stores that fail or hold a delivery at a chosen call (fault
 * injection: a step run between two of the engine's writes, which no store produces by itself).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { expect } from '../expect.ts';
import { withOverrides } from '../store-faults.ts';
import { csv, type TestLake } from '../local-lake.ts';
import { ACCOUNT_MONTHLY_BALANCE } from '../../../datasets/index.ts';
import { planGoldRefresh, type GoldState } from '../../../engine/gold/index.ts';
import {
  eraseRows,
  ingestObject,
  withMaintenanceLease,
  type ContractRegistry as Registry,
  type Manifest,
} from '../../../engine/index.ts';
import {
  ContractRegistry,
  DEFAULT_CONTRACTS_DIR,
  parseContract,
  readManifests,
  readSilverRecord,
  type ObjectStore,
} from '../../../engine/contract/index.ts';

/** The transactions contract at `version`, accepting only `currencies`. */
export function transactions(version: string, currencies: string[]): Registry {
  const document = JSON.parse(readFileSync(join(DEFAULT_CONTRACTS_DIR, 'transactions.json'), 'utf8')) as {
    version: string;
    columns: Array<{ name: string; checks?: { allowedValues?: string[] } }>;
  };
  document.version = version;
  const currency = document.columns.find((c) => c.name === 'currency');
  if (!currency?.checks) throw new Error('the transactions contract has no currency checks');
  currency.checks.allowedValues = currencies;
  return new ContractRegistry([parseContract(document, `transactions-${version}.json`)]);
}

export const V1 = transactions('1.0.0', ['EUR', 'USD', 'GBP']);
/** The replay's contract: GBP is no longer accepted, so the February row goes to quarantine and no February file is written. */
export const V2 = transactions('2.0.0', ['EUR', 'USD']);
/** A later replay's contract: GBP accepted again, so the February key the V2 run does not write is written again. */
export const V3 = transactions('3.0.0', ['EUR', 'USD', 'GBP']);

/** Two January rows and a February one in GBP, per producer `n`. */
export const producerFile = (n: number): string =>
  csv(
    `T${n}-1,ACC001,1.00,EUR,2024-01-02T10:00:00Z`,
    `T${n}-2,ACC002,5.00,GBP,2024-02-02T10:00:00Z`,
    `T${n}-3,ACC003,7.00,USD,2024-01-05T10:00:00Z`,
  );

/** The store, failing the first call of `method` that `matches` (a throttled S3 request, a timeout, a Ctrl-C). */
export function failingOnce<M extends 'delete' | 'putFile' | 'putBytes'>(
  store: ObjectStore,
  method: M,
  matches: (...args: Parameters<ObjectStore[M]>) => boolean,
): { store: ObjectStore; failed: () => boolean } {
  let failed = false;
  const original = store[method].bind(store) as (...args: Parameters<ObjectStore[M]>) => ReturnType<ObjectStore[M]>;
  const override = (...args: Parameters<ObjectStore[M]>) => {
    if (!failed && matches(...args)) {
      failed = true;
      return Promise.reject(new Error(`injected: ${method} failed`));
    }
    return original(...args);
  };
  return { store: withOverrides(store, { [method]: override } as Partial<ObjectStore>), failed: () => failed };
}

/**
 * The store, holding this delivery at the first `method` call that `matches` until `go` is called (`reached` says it
 * got there).
 */
export function heldAt<M extends 'putBytes' | 'putFile' | 'delete'>(
  store: ObjectStore,
  method: M,
  matches: (...args: Parameters<ObjectStore[M]>) => boolean,
  when: { after?: boolean } = {},
): { store: ObjectStore; reached: Promise<void>; go: () => void } {
  let reach!: () => void;
  let go!: () => void;
  const reached = new Promise<void>((r) => (reach = r));
  const released = new Promise<void>((r) => (go = r));
  const original = store[method].bind(store) as (...args: Parameters<ObjectStore[M]>) => ReturnType<ObjectStore[M]>;
  const hold = async (...args: Parameters<ObjectStore[M]>) => {
    if (!matches(...args)) return;
    reach();
    await released;
  };
  const override = async (...args: Parameters<ObjectStore[M]>) => {
    if (!when.after) await hold(...args);
    const result = await original(...args);
    if (when.after) await hold(...args);
    return result;
  };
  return { reached, go, store: withOverrides(store, { [method]: override } as Partial<ObjectStore>) };
}

/** A lake's replays of producer files: ingests, what silver holds, and the steps the races start from. */
export function replayHarness(lake: () => TestLake) {
  const ingest = (n: number, contracts: Registry, store: ObjectStore = lake().store): Promise<Manifest> => {
    const body = Buffer.from(producerFile(n));
    return ingestObject(
      {
        bucket: 'test-bronze',
        key: `transactions/producer-${n}.csv`,
        etag: `etag-${n}`,
        lastModified: new Date('2024-03-01T00:00:00Z'),
      },
      (async function* () {
        yield body;
      })(),
      { contracts, store, catalog: lake().catalog, workDir: lake().root },
    );
  };

  /** Producer `n`'s rows in silver: transaction id and contract version. */
  const silverOf = async (n: number): Promise<string[]> =>
    (await lake().silverRows())
      .filter((r) => String(r.transaction_id).startsWith(`T${n}-`))
      .map((r) => `${String(r.transaction_id)} ${String(r.contract_version)}`)
      .sort();

  /** Silver's JSON record under `key` (a manifest, an intent record); throws when there is none. */
  async function silverRecord<T>(key: string): Promise<T> {
    const record = await readSilverRecord<T>(lake().store, key);
    if (record === undefined) throw new Error(`no JSON record at silver/${key}`);
    return record;
  }

  /**
   * Producer 1 ingested under V1, then replayed under V2, which dies at its first silver delete: its manifest is in
   * place, its intent record names the V1 February file it has not removed.
   */
  async function replayDiedBeforeItsDeletes(): Promise<void> {
    await ingest(1, V1);
    const flaky = failingOnce(lake().store, 'delete', (zone) => zone === 'silver');
    await expect(ingest(1, V2, flaky.store)).rejects.toThrow(/injected: delete failed/);
  }

  const heldAtManifest = (store: ObjectStore) => heldAt(store, 'putBytes', (_, key) => key.startsWith('_manifests/'));

  /** Every file the manifest in place names exists, and silver holds exactly its rows of producer 1. */
  async function expectManifestMatchesSilver(): Promise<Manifest> {
    const [key] = await lake().files('silver', '_manifests/');
    const manifest = await silverRecord<Manifest>(key ?? '');
    for (const f of manifest.partitions.flatMap((p) => p.files))
      expect(await lake().store.getBytes('silver', f)).toBeDefined();
    expect((await silverOf(1)).length).toBe(manifest.rows_valid);
    return manifest;
  }

  const eraseAcc001 = () =>
    withMaintenanceLease(lake().store, { dataset: 'transactions', operation: 'erase', holder: 'test' }, () =>
      eraseRows({
        store: lake().store,
        contracts: V2,
        dataset: 'transactions',
        where: "account_id = 'ACC001'",
        requestedBy: 'dpo',
        workDir: lake().root,
      }),
    );

  return {
    ingest,
    silverOf,
    silverRecord,
    replayDiedBeforeItsDeletes,
    expectManifestMatchesSilver,
    eraseAcc001,
    heldAtManifest,
  };
}

/**
 * Two sources for gold's view of a removal: source 1's GBP row is in 2023-12 (V2 rejects it: that file goes stale),
 * the rest in 2024-01; source 2 holds 2023-11, so 2023-12 stays inside gold's range, before source 1's own months.
 * `refresh` plans the account-balance refresh gold would run over the manifests now in place.
 */
export function staleMonthHarness(lake: () => TestLake) {
  const bodies: Record<number, string> = {
    1: csv(
      'T1-1,ACC001,1.00,EUR,2024-01-02T10:00:00Z',
      'T1-2,ACC002,5.00,GBP,2023-12-02T10:00:00Z',
      'T1-3,ACC003,7.00,USD,2024-01-05T10:00:00Z',
      'T1-4,ACC004,2.00,USD,2024-01-06T10:00:00Z',
    ),
    2: csv('T2-1,ACC002,3.00,EUR,2023-11-02T10:00:00Z'),
  };
  const put = (n: number, contracts: Registry, store: ObjectStore = lake().store) =>
    ingestObject(
      { bucket: 'b', key: `transactions/p-${n}.csv`, etag: `e-${n}`, lastModified: new Date('2024-03-01T00:00:00Z') },
      (async function* () {
        yield Buffer.from(bodies[n] ?? '');
      })(),
      { contracts, store, catalog: lake().catalog, workDir: lake().root },
    );
  const erase = (account: string) =>
    withMaintenanceLease(lake().store, { dataset: 'transactions', operation: 'erase', holder: 'test' }, () =>
      eraseRows({
        store: lake().store,
        contracts: V2,
        dataset: 'transactions',
        where: `account_id = '${account}'`,
        requestedBy: 'dpo',
        workDir: lake().root,
      }),
    );
  const refresh = async (state?: GoldState) =>
    planGoldRefresh({
      table: ACCOUNT_MONTHLY_BALANCE,
      manifests: (await readManifests(lake().store, { dataset: 'transactions', onDamaged: 'skip' })).map(
        (e) => e.manifest,
      ),
      state,
    });
  /** Both sources under V1, then source 1 replayed under V2, dying at its first delete: the state gold refreshed to. */
  const replayDiedBeforeItsDeletes = async (): Promise<GoldState> => {
    await put(2, V1);
    await put(1, V1);
    let state = (await refresh()).nextState;
    const flaky = failingOnce(lake().store, 'delete', (zone) => zone === 'silver');
    await expect(put(1, V2, flaky.store)).rejects.toThrow(/injected: delete failed/);
    state = (await refresh(state)).nextState; // the stale 2023-12 file still counted
    return state;
  };
  return { put, erase, refresh, replayDiedBeforeItsDeletes };
}
