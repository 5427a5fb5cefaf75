/** The plan step: the object → a chunk plan in silver staging, or (not worth fanning out) ingested here. */
import { DEFAULT_EXPANSION_LIMITS, planFanOut, type Manifest } from '../../engine/index.ts';
import { engineOptions, openObject, withScratch, type IngestDependencies } from '../ingest/ingest-object.ts';
import type { FanOutRequest } from './requests.ts';

/** What the state machine routes on: `fanned_out` chooses the chunk Map, `chunks` is what it maps over. */
export interface PlanStepOutput {
  fanned_out: boolean;
  dataset: string;
  source_id: string;
  run_id: string;
  /** The chunks' byte ranges of the text (after the header), in order. */
  chunks: Array<{ index: number; start: number; end: number }>;
  /** Why the object was ingested in one pass instead (or was gone). */
  why?: string;
}

export async function planStep(
  request: Extract<FanOutRequest, { fanOut: 'plan' }>,
  deps: IngestDependencies,
  fanOutChunkBytes: number | undefined,
): Promise<{ output: PlanStepOutput; manifest?: Manifest }> {
  const opened = await openObject(request.source, deps);
  if (opened.status === 'skipped')
    return { output: { fanned_out: false, dataset: '', source_id: '', run_id: '', chunks: [], why: opened.detail } };
  try {
    const outcome = await withScratch(deps.config, async (workDir) =>
      planFanOut(opened.source, opened.body, {
        ...(await engineOptions(deps, workDir)),
        fanOutChunkBytes,
        // The text is streamed, not stored in /tmp: the /tmp-derived cap of MAX_UNCOMPRESSED_BYTES is for one pass.
        planExpansionLimits: DEFAULT_EXPANSION_LIMITS,
        // What cannot be chunked is ingested here in one pass: not above what one invocation transforms.
        onePassMaxBytes: deps.config.fanOutMinBytes,
      }),
    );
    if (outcome.kind === 'ingested') {
      const m = outcome.manifest;
      return {
        output: {
          fanned_out: false,
          dataset: m.dataset,
          source_id: m.source_id,
          run_id: m.run_id,
          chunks: [],
          why: outcome.why,
        },
        manifest: m,
      };
    }
    const { plan } = outcome;
    return {
      output: {
        fanned_out: true,
        dataset: plan.dataset,
        source_id: plan.source_id,
        run_id: plan.run_id,
        chunks: plan.chunks.map((c) => ({ index: c.index, start: c.start, end: c.end })),
      },
    };
  } finally {
    opened.body.destroy();
  }
}
