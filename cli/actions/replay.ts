/**
 * `lake replay`: re-ingest what bronze already holds (after a contract or engine fix, or a failure).
 * Outputs are keyed by each object's identity, so a replay rewrites the same files: never duplicates.
 */
import type { Io } from '../io.ts';
import { parseSince, type AwsOptions, type JsonOptions, type LakeOptions, type ThreadsOptions } from '../options.ts';
import { lakeTarget } from '../target.ts';

export interface ReplayOptions extends LakeOptions, JsonOptions, AwsOptions, ThreadsOptions {
  prefix?: string;
  since?: string;
  dataset?: string;
  dryRun?: boolean;
}

export async function replayAction(options: ReplayOptions, io: Io): Promise<void> {
  const since = options.since ? parseSince(options.since) : undefined;
  await lakeTarget(options).replay(options, since, io);
}
