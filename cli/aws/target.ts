/** The deployed lake as a `LakeTarget`: found by stack name; Athena for queries; the AWS SDK loaded on first use. */
import type { ContractRegistry, QueryEngine } from '../../engine/contract/index.ts';
import type { IngestOptions } from '../actions/ingest.ts';
import type { ReplayOptions } from '../actions/replay.ts';
import { UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { loadLakeContracts, LocalLake } from '../local/lake.ts';
import type { AwsMode } from '../options.ts';
import type { LakeTarget, Workgroup } from '../target.ts';

export class AwsTarget implements LakeTarget {
  readonly runningLabel = 'running on Athena';
  private loaded: ContractRegistry | undefined;

  constructor(private readonly mode: AwsMode) {}

  flag(): string {
    return ` --aws --stack ${this.mode.stack}`;
  }

  /** The contracts of this checkout: the ones the deployed lake was built from. */
  contracts(): ContractRegistry {
    this.loaded ??= loadLakeContracts();
    return this.loaded;
  }

  dataset(name: string): string {
    // The local lake object is a convenient holder for the contracts' name lookup.
    return new LocalLake(process.cwd(), this.contracts()).dataset(name);
  }

  queryableDatasets(): string[] {
    return [];
  }

  async openQueryEngine(workgroup: Workgroup, io: Io): Promise<QueryEngine> {
    return (await import('./athena.ts')).openAthenaEngine(this.mode, io, workgroup);
  }

  /** The quarantine database holds a table per contract. */
  quarantineTables(dataset: string | undefined): string[] {
    return dataset ? [dataset] : this.contracts().names();
  }

  quarantineLocation(key: string): string {
    return `quarantine bucket: ${key}`;
  }

  async ingest(paths: string[], options: IngestOptions, io: Io): Promise<void> {
    const { ingestToAws } = await import('./ingest.ts');
    await ingestToAws(
      paths,
      {
        ...this.mode,
        dataset: options.dataset,
        json: options.json,
        wait: options.wait,
        timeoutSeconds: options.timeout,
      },
      io,
    );
  }

  async replay(options: ReplayOptions, since: Date | undefined, io: Io): Promise<void> {
    const contracts = this.contracts();
    const prefix = options.prefix ?? (options.dataset ? contracts.get(options.dataset)?.bronzePrefix : undefined);
    if (options.dataset && !contracts.get(options.dataset))
      throw new UserError(`unknown dataset "${options.dataset}"`, `known datasets: ${contracts.names().join(', ')}`);
    const { replayOnAws } = await import('./replay.ts');
    await replayOnAws({ ...this.mode, prefix, since, json: options.json, dryRun: options.dryRun }, io);
  }
}
