/**
 * Where a command acts: the local lake in a directory, or the deployed lake on AWS. One interface, two
 * implementations (cli/local/target.ts, cli/aws/target.ts): the actions never branch on the mode.
 */
import type { ContractRegistry, QueryEngine } from '../engine/contract/index.ts';
import type { IngestOptions } from './actions/ingest.ts';
import type { ReplayOptions } from './actions/replay.ts';
import { AwsTarget } from './aws/target.ts';
import type { Io } from './io.ts';
import { LocalTarget } from './local/target.ts';
import { awsMode, type AwsOptions, type LakeOptions } from './options.ts';

/** Analysts query silver and gold; the platform workgroup may also read quarantine. */
export type Workgroup = 'analysts' | 'platform';

export interface LakeTarget {
  /** What `lake query` shows while a query runs. */
  readonly runningLabel: string;
  /** The flags that name this lake again in a suggested command, with a leading space (or none). */
  flag(): string;
  contracts(): ContractRegistry;
  /** The dataset a name refers to; a UserError listing the known ones otherwise. */
  dataset(name: string): string;
  /** Datasets whose tables `lake query` names when a table is unknown. */
  queryableDatasets(): string[];
  /** A query engine over silver, gold and quarantine (on AWS: Athena in the workgroup). */
  openQueryEngine(workgroup: Workgroup, io: Io): Promise<QueryEngine>;
  /** The quarantine tables a `lake quarantine` reads, for one dataset or all. */
  quarantineTables(dataset: string | undefined): string[];
  /** Where a rejected file's copy is, for a person. */
  quarantineLocation(key: string): string;
  ingest(paths: string[], options: IngestOptions, io: Io): Promise<void>;
  replay(options: ReplayOptions, since: Date | undefined, io: Io): Promise<void>;
}

/** The lake the options name: `--aws --stack NAME` or a local directory (`--lake DIR`, the default). */
export function lakeTarget(options: LakeOptions & AwsOptions): LakeTarget {
  const aws = awsMode(options);
  return aws ? new AwsTarget(aws) : new LocalTarget(options);
}
