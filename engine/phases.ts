/**
 * Where an ingest's time goes: each phase, when it started and ended (milliseconds on `performance.now()`'s
 * clock), told to an observer as it ends — for timelines (`npm run bench -- --phases`), never for decisions.
 */

/** Told of each phase as it ends; phases of chunks transformed at once overlap. */
export type PhaseObserver = (phase: string, startMs: number, endMs: number) => void;

/**
 * Runs `work` as `phase` of what `observer` watches (nothing is measured without one). An observer that throws is
 * ignored: watching never changes what the work gives or throws.
 */
export async function timed<T>(observer: PhaseObserver | undefined, phase: string, work: () => Promise<T>): Promise<T> {
  if (!observer) return work();
  const start = performance.now();
  try {
    return await work();
  } finally {
    try {
      observer(phase, start, performance.now());
    } catch {
      // ignored (above)
    }
  }
}
