/**
 * `lake replay --aws`: re-sends "Object Created" events for bronze objects to the ingest queue, in the shape
 * EventBridge delivers them. The events name each object's current version, so the Lambda re-ingests
 * exactly that version and rewrites the same outputs: no duplicates, and bronze is left untouched
 * (copying objects in place would create new versions, hence new sources).
 */
import { randomUUID } from 'node:crypto';
import { SendMessageBatchCommand } from '@aws-sdk/client-sqs';
import type { ObjectStore } from '../../engine/contract/index.ts';
import { CommandFailed } from '../errors.ts';
import type { Io } from '../io.ts';
import type { AwsMode } from '../options.ts';
import { formatBytes, plural } from '../ui/format.ts';
import { renderJson } from '../ui/output.ts';
import { openAwsSession } from './session.ts';

export interface AwsReplayOptions extends AwsMode {
  prefix?: string;
  since?: Date;
  json?: boolean;
  dryRun?: boolean;
}

export interface ReplayedObject {
  key: string;
  versionId?: string;
  etag?: string;
  size: number;
  lastModified: Date;
}

/** An EventBridge "Object Created" event, as S3 emits it. */
export function objectCreatedEvent(bucket: string, region: string, o: ReplayedObject): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Object Created',
    source: 'aws.s3',
    account: '',
    time: o.lastModified.toISOString(),
    region,
    resources: [`arn:aws:s3:::${bucket}`],
    detail: {
      version: '0',
      bucket: { name: bucket },
      object: {
        key: o.key,
        size: o.size,
        etag: o.etag?.replace(/"/g, ''),
        ...(o.versionId && o.versionId !== 'null' ? { 'version-id': o.versionId } : {}),
      },
      'request-id': 'lake-replay',
      requester: 'lake-cli',
      reason: 'PutObject',
    },
  };
}

/** Current versions of the bronze objects under a prefix, modified at or after `since`. */
async function currentVersions(
  store: ObjectStore,
  prefix: string | undefined,
  since: Date | undefined,
  onFound: (n: number) => void,
): Promise<ReplayedObject[]> {
  const objects: ReplayedObject[] = [];
  for await (const v of store.listVersions('bronze', prefix ?? '')) {
    if (!v.isLatest) continue;
    if (since && v.lastModified < since) continue;
    objects.push({ key: v.key, versionId: v.versionId, etag: v.etag, size: v.size, lastModified: v.lastModified });
    onFound(objects.length);
  }
  return objects;
}

export async function replayOnAws(options: AwsReplayOptions, io: Io): Promise<void> {
  const { stack, store, clients, close } = await openAwsSession(options);
  try {
    const progress = io.progress('items');
    progress.phase('listing bronze');
    const objects = await currentVersions(store, options.prefix, options.since, (n) => progress.set(n));
    progress.stop();

    if (!options.dryRun && objects.length) {
      const region = await clients.sqs.config.region();
      progress.start('sending events', objects.length);
      for (let i = 0; i < objects.length; i += 10) {
        const batch = objects.slice(i, i + 10);
        const response = await clients.sqs.send(
          new SendMessageBatchCommand({
            QueueUrl: stack.ingestQueueUrl,
            Entries: batch.map((o, j) => ({
              Id: String(j),
              MessageBody: JSON.stringify(objectCreatedEvent(stack.bronzeBucket, region, o)),
            })),
          }),
        );
        if (response.Failed?.length) {
          progress.stop();
          throw new CommandFailed(
            `the queue refused ${plural(response.Failed.length, 'event')} (${response.Failed[0]?.Message ?? response.Failed[0]?.Code})`,
            `${i} events were sent before; replaying again is safe`,
          );
        }
        progress.set(i + batch.length);
      }
      progress.stop();
    }

    if (options.json) {
      io.print(
        renderJson({
          dry_run: options.dryRun === true,
          queue: stack.ingestQueueUrl,
          objects: objects.map((o) => ({ ...o, lastModified: o.lastModified.toISOString() })),
        }),
      );
      return;
    }
    const size = objects.reduce((s, o) => s + o.size, 0);
    if (objects.length === 0)
      io.print(
        `No bronze objects${options.prefix ? ` under ${options.prefix}` : ''}${options.since ? ` since ${options.since.toISOString()}` : ''}.\n`,
      );
    else if (options.dryRun)
      io.print(
        `Would re-send ${plural(objects.length, 'event')} (${formatBytes(size)} of bronze objects):\n${objects.map((o) => `  ${o.key}\n`).join('')}`,
      );
    else
      io.print(
        `Re-sent ${plural(objects.length, 'event')} (${formatBytes(size)} of bronze objects) to the ingest queue. Outputs are keyed by object version: nothing is duplicated.\n`,
      );
  } finally {
    close();
  }
}
