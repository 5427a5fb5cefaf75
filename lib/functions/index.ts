/** The lake's functions, what they share: runtime, bundling, defaults, log group, event-source sizing. */
export * from './runtime.ts';
export * from './bundling.ts';
export * from './defaults.ts';
export * from './log-group.ts';
export * from './queue.ts';
