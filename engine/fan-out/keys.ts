/**
 * Where a fan-out ingest keeps its pieces until it is committed: one silver prefix per source, named by its
 * source id (so only that source's cleanup ever deletes them), outside every table location (Athena and
 * Glue never read it). Every key is a function of the source and the chunk index: a re-run overwrites.
 */
import { STAGING_PREFIX } from '../layout.ts';

export { STAGING_PREFIX };

export const stagingPrefix = (dataset: string, sourceId: string): string => `${STAGING_PREFIX}${dataset}/${sourceId}/`;

/** The plan: the state machine passes this key, not the plan (its payload limit is 256 KB). */
export const planKey = (staging: string): string => `${staging}plan.json`;

/** A gzip source's decompressed text (gzip has no byte ranges). */
export const stagedTextKey = (staging: string): string => `${staging}text.txt`;

/** A JSON Lines source's first lines (records over the limit cut out): every chunk samples its keys from them. */
export const keySampleKey = (staging: string): string => `${staging}key-sample.jsonl`;

const chunkPrefix = (staging: string, index: number): string => `${staging}chunk-${String(index).padStart(5, '0')}/`;

/** Written last by a chunk: its presence means every other staged file of the chunk is in place. */
export const chunkResultKey = (staging: string, index: number): string => `${chunkPrefix(staging, index)}result.json`;

export const chunkSilverKey = (staging: string, index: number, partitionPrefix: string, file: number): string =>
  `${chunkPrefix(staging, index)}silver/${partitionPrefix}${String(file).padStart(5, '0')}.parquet`;

export const chunkQuarantineKey = (staging: string, index: number): string =>
  `${chunkPrefix(staging, index)}quarantine.parquet`;
