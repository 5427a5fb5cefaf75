/** The chunk step: one chunk of a planned fan-out, read by range, transformed and staged. */
import { EngineInvariantError, loadPlan, transformFanOutChunk } from '../../engine/index.ts';
import { engineOptions, withScratch, type IngestDependencies } from '../ingest/ingest-object.ts';
import type { FanOutRequest } from './requests.ts';

export interface ChunkStepOutput {
  index: number;
  rows_in: number;
  rows_valid: number;
  rows_quarantined: number;
  /** The chunk found what only the one pass reads right; the commit ingests the file in one pass. */
  rejected: boolean;
}

export async function chunkStep(
  request: Extract<FanOutRequest, { fanOut: 'chunk' }>,
  deps: IngestDependencies,
): Promise<ChunkStepOutput> {
  const plan = await loadPlan(deps, request.dataset, request.sourceId);
  if (!plan)
    throw new EngineInvariantError(
      `no fan-out plan for ${request.dataset} source ${request.sourceId}: committed already, or never planned`,
    );
  const result = await withScratch(deps.config, async (workDir) =>
    transformFanOutChunk(plan, request.index, await engineOptions(deps, workDir)),
  );
  return {
    index: result.index,
    rows_in: result.rows_in,
    rows_valid: result.rows_valid,
    rows_quarantined: result.rows_quarantined,
    rejected: result.rejection !== null,
  };
}
