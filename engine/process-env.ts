/**
 * Node's worker pool (libuv; 4 threads unless set at process start): every DuckDB query holds one of its threads
 * for as long as it runs, and so would a `COPY` per session — with 4 sessions at once nothing would be left for
 * the file reads and writes of the spool and the chunk copies, which would wait seconds for a chunk to end. 16
 * leaves room beside the 6 sessions of the largest Lambda (idle pool threads cost a stack's address space only).
 */
export const ENGINE_THREADPOOL_SIZE = 16;

/**
 * glibc allocator settings for a process that runs the engine, applied at process start (the Lambda's
 * environment, the benchmark's child processes). Two malloc arenas instead of glibc's eight per core keep the
 * peak RSS lower (2M rows, one session: 257–266 MB against 281 MB; 10M rows: 297 against 305 MB) at no
 * measured cost in time. Measured on 2026-12-02 against the settings before, one arena and
 * `MALLOC_TRIM_THRESHOLD_=131072`: setting a trim threshold also stops glibc from raising its mmap threshold
 * above the 128 KiB default, so every allocation of 128 KiB or more was an mmap and its pages faulted in anew — 12–19% slower with two
 * sessions (2M rows: 5.2–5.9 s against 4.3–4.7 s), ~15% with one on 10M rows, for ~25 MB less RSS; and one
 * arena alone cost ~7% with two sessions (their threads queued for it).
 */
export const ENGINE_PROCESS_ENV: Readonly<Record<string, string>> = {
  MALLOC_ARENA_MAX: '2',
  UV_THREADPOOL_SIZE: String(ENGINE_THREADPOOL_SIZE),
};
