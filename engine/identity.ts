import { createHash } from 'node:crypto';
import type { SourceRef } from './manifest.ts';

/** Bump when a change to the engine changes silver content for the same input and contract. */
export const ENGINE_OUTPUT_VERSION = '1';

const sha256 = (text: string): string => createHash('sha256').update(text).digest('hex');

/** S3 returns ETags quoted; events carry them bare. */
export const normalizeEtag = (etag: string | undefined): string | undefined =>
  etag?.replace(/^"+|"+$/g, '') || undefined;

/** The version that identifies this exact object content: version id when versioned, else the ETag. */
export const sourceVersion = (source: SourceRef): string | undefined => source.versionId || normalizeEtag(source.etag);

/**
 * Names every output of one source. Equal for a redelivery of the same object version; different for
 * any other object or version, so two sources never overwrite each other's files.
 */
export function sourceId(source: SourceRef): string {
  return sha256(`s3://${source.bucket}/${source.key}\n${sourceVersion(source) ?? ''}`).slice(0, 24);
}

/** Deterministic run id: the same source under the same contract version always gets the same id. */
export function runId(id: string, dataset: string, contractVersion: string | null): string {
  return sha256(`${id}\n${dataset}@${contractVersion ?? '-'}\nengine-output-${ENGINE_OUTPUT_VERSION}`).slice(0, 16);
}
