/**
 * glibc allocator settings for a process that runs the engine, applied at process start (the Lambda's
 * environment, the benchmark's child processes). DuckDB frees memory between phases, but with one malloc
 * arena per thread and a high trim threshold glibc keeps it: measured peak RSS 290 MB at 2M rows and 341–366 MB
 * at 10M rows without them, 275 MB and 289 MB with them.
 */
export const ENGINE_PROCESS_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '1',
  MALLOC_TRIM_THRESHOLD_: '131072',
};
