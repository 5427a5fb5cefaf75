/** `lake ingest`: what it does (the command's options and help live in commands/ingest.ts). */
import type { Io } from '../io.ts';
import type { AwsOptions, JsonOptions, LakeOptions, ThreadsOptions } from '../options.ts';
import { lakeTarget } from '../target.ts';

export interface IngestOptions extends LakeOptions, JsonOptions, AwsOptions, ThreadsOptions {
  dataset?: string;
  wait?: boolean;
  timeout: number;
}

export async function ingestAction(paths: string[], options: IngestOptions, io: Io): Promise<void> {
  await lakeTarget(options).ingest(paths, options, io);
}
