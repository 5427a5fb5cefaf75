import type { HeaderMatch } from '../header.ts';
import type { StagingSource } from '../sql.ts';

/** A source file made ready for staging: how its fields bind to the contract, and how to read them. */
export interface PreparedSource {
  header: HeaderMatch;
  source: StagingSource;
}

/**
 * What a reader does with records it cannot read (wrong field count, broken quoting, bytes that are not
 * UTF-8): `skip` them (staging), or `store` them in DuckDB's reject table (the rejects pass). DuckDB holds
 * stored rejects in memory until its scan ends, about 1 KB each, so staging never stores them.
 */
export type RejectMode = 'skip' | 'store';

export const rejectOption = (mode: RejectMode): string =>
  mode === 'store' ? 'store_rejects = true' : 'ignore_errors = true';
