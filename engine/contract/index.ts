export * from './types.ts';
export * from './load.ts';
export * from './schema.ts';
export * from './evolution.ts';
export * from './release-gate.ts';
export { renderDataDictionary } from './dictionary.ts';
