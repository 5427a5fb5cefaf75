export * from './types.ts';
export * from './load.ts';
export * from './schema.ts';
