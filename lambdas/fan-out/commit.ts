/** The commit step: every staged chunk → silver, quarantine, partitions, manifest; staging removed. */
import { commitFanOut, committedManifest, EngineInvariantError, loadPlan, type Manifest } from '../../engine/index.ts';
import { engineOptions, withScratch, type IngestDependencies } from '../ingest/ingest-object.ts';
import type { FanOutRequest } from './requests.ts';

export interface CommitStepOutput {
  outcome: 'committed' | 'ingested' | 'already-committed';
  run_id: string;
  status: Manifest['status'];
  rows_in: number;
  rows_valid: number;
  rows_quarantined: number;
  why?: string;
}

export async function commitStep(
  request: Extract<FanOutRequest, { fanOut: 'commit' }>,
  deps: IngestDependencies,
): Promise<{ output: CommitStepOutput; manifest: Manifest }> {
  const plan = await loadPlan(deps, request.dataset, request.sourceId);
  let outcome;
  if (plan) {
    outcome = await withScratch(deps.config, async (workDir) =>
      // A chunk that recorded a rejection sends the file through one pass: not above what one invocation transforms.
      commitFanOut(plan, { ...(await engineOptions(deps, workDir)), onePassMaxBytes: deps.config.fanOutMinBytes }),
    );
  } else {
    // A commit retried after it finished: its plan went with the staging prefix, its manifest is in place.
    // It also removes a same-run intent record the first attempt left, and publishes the run's event again.
    const manifest = await committedManifest(deps, request.dataset, request.sourceId, request.runId);
    if (!manifest)
      throw new EngineInvariantError(
        `no fan-out plan and no manifest of run ${request.runId} for ${request.dataset} source ${request.sourceId}`,
      );
    outcome = { kind: 'already-committed' as const, manifest };
  }
  const m = outcome.manifest;
  return {
    output: {
      outcome: outcome.kind,
      run_id: m.run_id,
      status: m.status,
      rows_in: m.rows_in,
      rows_valid: m.rows_valid,
      rows_quarantined: m.rows_quarantined,
      ...('why' in outcome ? { why: outcome.why } : {}),
    },
    manifest: m,
  };
}
