export * from './months.ts';
export * from './sql.ts';
export * from './tables.ts';
export * from './plan.ts';
export * from './query-file.ts';
export * from './athena.ts';
export * from './portable-sql.ts';
export * from './refresh.ts';
