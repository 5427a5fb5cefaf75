/**
 * The fan-out steps, run by the ingest function (same bundle, same engine, same grants) when the state
 * machine invokes it with `{ fanOut: 'plan' | 'chunk' | 'commit', … }`. A step that fails throws: the state
 * machine retries it, and after its retries fails the execution (alarm, runbook, `lake fanout`).
 */
import type { IngestDependencies } from '../ingest/ingest-object.ts';
import { logger, publishIngestMetrics } from '../ingest/telemetry.ts';
import { chunkStep, type ChunkStepOutput } from './chunk.ts';
import { commitStep, type CommitStepOutput } from './commit.ts';
import { planStep, type PlanStepOutput } from './plan.ts';
import { parseFanOutRequest } from './requests.ts';

export type FanOutResponse = PlanStepOutput | ChunkStepOutput | CommitStepOutput;

export async function handleFanOut(event: { fanOut: unknown }, deps: IngestDependencies): Promise<FanOutResponse> {
  const request = parseFanOutRequest(event);
  const started = performance.now();
  const keys =
    request.fanOut === 'plan'
      ? { fan_out_step: 'plan', source_key: request.source.key }
      : { fan_out_step: request.fanOut, dataset: request.dataset, source_id: request.sourceId };
  logger.appendKeys(keys);
  try {
    switch (request.fanOut) {
      case 'plan': {
        const { output, manifest } = await planStep(request, deps, deps.config.fanOutChunkBytes);
        logger.info(output.fanned_out ? 'object planned for fan-out' : 'object not fanned out', {
          ...output,
          chunks: output.chunks.length,
        });
        if (manifest) publishIngestMetrics(manifest, performance.now() - started, undefined);
        return output;
      }
      case 'chunk': {
        const output = await chunkStep(request, deps);
        logger.info('fan-out chunk staged', { ...output });
        return output;
      }
      case 'commit': {
        const { output, manifest } = await commitStep(request, deps);
        logger.info('fan-out committed', { ...output });
        if (output.outcome !== 'already-committed') publishIngestMetrics(manifest, manifest.duration_ms, undefined);
        return output;
      }
    }
  } catch (error) {
    logger.error('fan-out step failed', { error: error as Error });
    throw error;
  } finally {
    logger.removeKeys(Object.keys(keys));
  }
}
