export * from './contract/index.ts';
export * from './ports.ts';
export * from './layout.ts';
export * from './manifest.ts';
export * from './reasons.ts';
export * from './ingest.ts';
export * from './identity.ts';
export * from './process-env.ts';
export { DEFAULT_REJECTS_LIMITS, type RejectsLimits } from './reader.ts';
