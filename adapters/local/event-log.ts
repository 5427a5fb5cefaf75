/**
 * The local lake's event publisher: each lake event is appended, as the JSON EventBridge would deliver
 * (`source`, `detail-type`, `time`, `detail`), to `<lake>/_events/<dataset>.jsonl` — one line per ingest, so a
 * producer (or a script) can follow its files with `tail -f`.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { EventPublisher, LakeEvent } from '../../engine/index.ts';

export const EVENTS_DIR = '_events';

/** The event as EventBridge delivers it to a rule's target (minus the ids AWS adds). */
export function eventEnvelope(event: LakeEvent): Record<string, unknown> {
  return {
    source: event.source,
    'detail-type': event.detailType,
    time: event.time.toISOString(),
    detail: event.detail,
  };
}

export class LocalEventLog implements EventPublisher {
  constructor(readonly root: string) {}

  path(dataset: string): string {
    return join(this.root, EVENTS_DIR, `${dataset}.jsonl`);
  }

  async publish(event: LakeEvent): Promise<void> {
    await mkdir(join(this.root, EVENTS_DIR), { recursive: true });
    // One write per line, opened for append: lines of concurrent ingests do not interleave.
    await appendFile(this.path(event.detail.dataset), `${JSON.stringify(eventEnvelope(event))}\n`, { flag: 'a' });
  }
}
