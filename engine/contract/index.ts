/**
 * The engine's DuckDB-free face: what the lake promises to everything around it. Dataset contracts and their
 * columns, where things live in the zones, what a manifest says, how sources are identified, why rows and files
 * are rejected, the ports adapters implement, and the settings an engine process runs with. Safe to load at CDK
 * synth and in functions that never run an ingest (no native module behind it).
 */
export * from './types.ts';
export * from './load.ts';
export * from './schema.ts';
export * from './dictionary.ts';
export * from '../layout.ts';
export * from '../manifest.ts';
export * from '../manifest-reader.ts';
export * from '../identity.ts';
export * from '../reasons.ts';
export * from '../ports.ts';
export * from '../process-env.ts';
export * from '../events.ts';
export * from './evolution.ts';
export * from './release-gate.ts';
