/** `lake ingest --aws`: uploads files to the deployed bronze bucket; the ingest Lambda does the rest. */
import { stat } from 'node:fs/promises';
import {
  AccessDeniedError,
  type Manifest,
  manifestKey,
  ObjectExistsError,
  type ObjectStore,
  readJson,
  sourceId,
} from '../../engine/contract/index.ts';
import { CommandFailed, UserError } from '../errors.ts';
import type { Io } from '../io.ts';
import { md5File } from '../local/hash.ts';
import { bronzeKeyFor, findInputFiles } from '../local/ingest-plan.ts';
import { manifestLine, reportSkipped } from '../local/ingest-report.ts';
import { loadLakeContracts } from '../local/lake.ts';
import type { AwsMode } from '../options.ts';
import { formatBytes, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { openAwsSession } from './session.ts';

/** Metadata key carrying the MD5 of the whole file: multipart ETags are not content hashes. */
const MD5_METADATA = 'content-md5-hex';

export interface AwsIngestOptions extends AwsMode {
  dataset?: string;
  json?: boolean;
  wait?: boolean;
  timeoutSeconds?: number;
}

interface PlannedUpload {
  path: string;
  key: string;
  dataset: string;
  size: number;
  md5: string;
  alreadyThere?: ExistingObject;
}

interface ExistingObject {
  md5?: string;
  versionId?: string;
  etag?: string;
}

/**
 * What bronze holds under the key: undefined when nothing, `'unreadable'` when this identity may not read
 * bronze (a producer with `grantProducerWrite` may only put): the upload is then create-only all the same.
 */
async function existing(store: ObjectStore, key: string): Promise<ExistingObject | 'unreadable' | undefined> {
  try {
    const head = await store.head('bronze', key);
    return head && { md5: head.metadata[MD5_METADATA], versionId: head.versionId, etag: head.etag };
  } catch (e) {
    if (e instanceof AccessDeniedError) return 'unreadable';
    throw e;
  }
}

const sameBytes = (there: ExistingObject, md5: string): boolean =>
  there.md5 === md5 || there.etag?.replace(/"/g, '') === md5;

function differentContent(bucket: string, key: string): UserError {
  return new UserError(
    `s3://${bucket}/${key} already holds different content`,
    'raw input is immutable: give the new file another name, or use `lake replay --aws` to re-process the existing object',
  );
}

async function waitForManifest(store: ObjectStore, key: string, timeoutMs: number): Promise<Manifest | undefined> {
  const deadline = Date.now() + timeoutMs;
  let delay = 500;
  while (Date.now() < deadline) {
    const manifest = await readJson<Manifest>(store, 'silver', key);
    if (manifest) return manifest;
    await new Promise((r) => setTimeout(r, delay));
    delay = Math.min(delay * 2, 5000);
  }
  return undefined;
}

export async function ingestToAws(paths: readonly string[], options: AwsIngestOptions, io: Io): Promise<void> {
  const contracts = loadLakeContracts();
  const forced = options.dataset ? contracts.get(options.dataset) : undefined;
  if (options.dataset && !forced)
    throw new UserError(`unknown dataset "${options.dataset}"`, `known datasets: ${contracts.names().join(', ')}`);
  const { files: found, skipped } = await findInputFiles(paths);
  reportSkipped(skipped, io);
  const { stack, store, close } = await openAwsSession(options);
  try {
    const bucket = stack.bronzeBucket;
    const planned: PlannedUpload[] = [];
    for (const file of found) {
      const { dataset, key } = bronzeKeyFor(file, contracts, forced);
      const md5 = await md5File(file.path);
      const there = await existing(store, key);
      if (there && there !== 'unreadable' && !sameBytes(there, md5)) throw differentContent(bucket, key);
      planned.push({
        path: file.path,
        key,
        dataset,
        size: (await stat(file.path)).size,
        md5,
        alreadyThere: there === 'unreadable' ? undefined : there,
      });
    }

    const results: Array<{
      bucket: string;
      key: string;
      version_id: string | null;
      etag: string | null;
      uploaded: boolean;
      manifest?: Manifest;
    }> = [];
    const progress = io.progress('bytes');
    for (const [i, file] of planned.entries()) {
      let versionId = file.alreadyThere?.versionId;
      let etag = file.alreadyThere?.etag;
      if (!file.alreadyThere) {
        progress.start(`[${i + 1}/${planned.length}] uploading ${file.key}`, file.size);
        // Create-only (S3: If-None-Match: *, on the PutObject or the CompleteMultipartUpload): an object that
        // landed under the key since the check above is never overwritten.
        try {
          const put = await store.putFile('bronze', file.key, file.path, undefined, {
            ifNoneMatch: true,
            metadata: { [MD5_METADATA]: file.md5 },
            onProgress: (sent) => progress.set(sent),
          });
          versionId = put.versionId;
          etag = put.etag;
        } catch (e) {
          if (!(e instanceof ObjectExistsError)) throw e;
          const there = await existing(store, file.key);
          if (there === 'unreadable') {
            throw new UserError(
              `s3://${bucket}/${file.key} already holds an object (maybe this very upload, if a retry of it was refused), which this identity may not read to compare`,
              'give the file another name, or ask the platform team whether bronze already has these bytes',
            );
          }
          if (!there || !sameBytes(there, file.md5)) throw differentContent(bucket, file.key);
          file.alreadyThere = there;
          versionId = there.versionId;
          etag = there.etag;
        } finally {
          progress.stop();
        }
      }
      const result: (typeof results)[number] = {
        bucket,
        key: file.key,
        version_id: versionId ?? null,
        etag: etag?.replace(/"/g, '') ?? null,
        uploaded: !file.alreadyThere,
      };
      if (!options.json) {
        io.print(
          `${file.alreadyThere ? io.style.dim('=') : io.style.green('↑')} s3://${bucket}/${file.key}  ${formatBytes(file.size)}${file.alreadyThere ? '  (already in bronze)' : ''}${versionId ? io.style.dim(`  version ${versionId}`) : ''}\n`,
        );
      }
      if (options.wait) {
        const id = sourceId({ bucket, key: file.key, versionId, etag });
        progress.phase(`waiting for the ingest of ${file.key}`);
        const manifest = await waitForManifest(
          store,
          manifestKey(file.dataset, id),
          (options.timeoutSeconds ?? 300) * 1000,
        );
        progress.stop();
        if (!manifest) {
          throw new CommandFailed(
            `no manifest for ${file.key} after ${options.timeoutSeconds ?? 300} s`,
            'the Lambda may still be running, or the event went to the dead-letter queue: check `lake dlq status --aws`',
          );
        }
        result.manifest = manifest;
        if (!options.json) io.print(manifestLine(manifest, io.style));
      }
      results.push(result);
    }
    if (options.json) io.print(renderJson(results));
    else if (!options.wait)
      io.print(
        `\n${plural(planned.length, 'file')} in bronze; the ingest function picks them up from the queue. Add --wait to see the results.\n`,
      );
  } finally {
    close();
  }
}
