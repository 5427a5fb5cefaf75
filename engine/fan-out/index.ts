export { commitFanOut, committedManifest, loadPlan, type CommitOutcome } from './commit.ts';
export { transformFanOutChunk } from './chunk.ts';
export { DEFAULT_FAN_OUT_CHUNK_BYTES, planFanOut, type FanOutPlanOptions, type PlanOutcome } from './plan.ts';
export { stagingPrefix } from './keys.ts';
export type { FanOutChunk, FanOutChunkResult, FanOutPlan } from './types.ts';
