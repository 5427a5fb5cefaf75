/**
 * The lake's dataset-specific code, by dataset: what gold holds for each (tables built from silver, views over
 * it). The generic machinery (planning, SQL building blocks, refresh) is in the engine (`engine/gold/`); the
 * dataset contracts are the JSON files in `contracts/`. DuckDB-free: the CDK app imports it at synth.
 */
import type { GoldTable, GoldView } from '../engine/gold/index.ts';
import { ACCOUNT_MONTHLY_BALANCE } from './transactions/account-monthly-balance.ts';
import { TRANSACTIONS_LATEST } from './transactions/transactions-latest.ts';

export { ACCOUNT_MONTHLY_BALANCE, TRANSACTIONS_LATEST };

/** Every gold table of the lake (the catalog registers those whose source dataset has a contract). */
export const GOLD_TABLES: readonly GoldTable[] = [ACCOUNT_MONTHLY_BALANCE];
/** Every gold view of the lake. */
export const GOLD_VIEWS: readonly GoldView[] = [TRANSACTIONS_LATEST];
/** The table the gold-refresh function and `lake` refresh: the one gold table there is today. */
export const DEFAULT_GOLD_TABLE: GoldTable = ACCOUNT_MONTHLY_BALANCE;
