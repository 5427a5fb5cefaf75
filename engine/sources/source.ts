import type { HeaderMatch } from '../header.ts';
import type { StagingSource } from '../sql.ts';

/** A source file made ready for staging: how its fields bind to the contract, and how to read them. */
export interface PreparedSource {
  header: HeaderMatch;
  source: StagingSource;
}
