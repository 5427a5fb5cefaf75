/** The local lake in a directory as a `LakeTarget`: opened on first use, DuckDB for queries. */
import type { ContractRegistry, QueryEngine } from '../../engine/contract/index.ts';
import type { IngestOptions } from '../actions/ingest.ts';
import type { ReplayOptions } from '../actions/replay.ts';
import type { Io } from '../io.ts';
import type { LakeOptions } from '../options.ts';
import { quarantineTables } from '../quarantine-queries.ts';
import type { LakeTarget } from '../target.ts';
import { ingestLocal } from './ingest-command.ts';
import { LocalLake } from './lake.ts';
import { displayPath, lakeFlag, requireLake } from './lake-dir.ts';
import { replayLocal } from './replay-command.ts';

export class LocalTarget implements LakeTarget {
  readonly runningLabel = 'running';
  private opened: LocalLake | undefined;

  constructor(private readonly options: LakeOptions) {}

  private lake(): LocalLake {
    this.opened ??= LocalLake.open(requireLake(this.options.lake));
    return this.opened;
  }

  flag(): string {
    return lakeFlag(this.lake().dir);
  }

  contracts(): ContractRegistry {
    return this.lake().contracts;
  }

  dataset(name: string): string {
    return this.lake().dataset(name);
  }

  queryableDatasets(): string[] {
    return this.lake().contracts.names();
  }

  openQueryEngine(): Promise<QueryEngine> {
    return this.lake().openQueryEngine();
  }

  quarantineTables(dataset: string | undefined): string[] {
    return quarantineTables(this.lake().contracts, dataset);
  }

  quarantineLocation(key: string): string {
    return displayPath(this.lake().zonePath('quarantine', key));
  }

  ingest(paths: string[], options: IngestOptions, io: Io): Promise<void> {
    return ingestLocal(paths, options, io);
  }

  replay(options: ReplayOptions, since: Date | undefined, io: Io): Promise<void> {
    return replayLocal(options, since, io);
  }
}
