/** When `lake watch` takes a file: quiet for the whole quiet period, on the watcher's clock (injected here). */
import { describe, expect, it } from '@jest/globals';
import { StabilityTracker, type FileSnapshot } from '../../../cli/local/stability.ts';

const QUIET = 5000;
const T0 = 1_700_000_000_000;
const snap = (size: number, mtimeMs: number, ino = 7): FileSnapshot => ({ size, mtimeMs, ino });

describe('StabilityTracker', () => {
  it('waits out the quiet period for a file being written, even across polls where it did not change', () => {
    const t = new StabilityTracker(QUIET);
    expect(t.observe('f', snap(100, T0), T0)).toEqual({ settling: true, firstSight: true });
    // The writer pauses: one poll interval later nothing changed, but the quiet period has not passed.
    expect(t.observe('f', snap(100, T0), T0 + 1000)).toEqual({ settling: true, firstSight: false });
    expect(t.observe('f', snap(100, T0), T0 + 2000)).toEqual({ settling: true, firstSight: false });
    // It writes more: the quiet period starts again.
    expect(t.observe('f', snap(250, T0 + 2500), T0 + 3000)).toEqual({ settling: true, firstSight: true });
    expect(t.observe('f', snap(250, T0 + 2500), T0 + 7000)).toEqual({ settling: true, firstSight: false });
    expect(t.observe('f', snap(250, T0 + 2500), T0 + 8000)).toBe('ready');
  });

  it('takes a file untouched for longer than the quiet period at first sight (there before the watch began)', () => {
    const t = new StabilityTracker(QUIET);
    expect(t.observe('old', snap(10, T0 - 60_000), T0)).toBe('ready');
  });

  it('looks at a handled file again only when it changes (size, mtime or inode)', () => {
    const t = new StabilityTracker(QUIET);
    expect(t.observe('f', snap(10, T0 - 60_000), T0)).toBe('ready');
    t.markHandled('f');
    expect(t.observe('f', snap(10, T0 - 60_000), T0 + 1000)).toBe('handled');
    // Replaced by a rename (new inode) of an equally old file: a new file, taken on its own merits.
    expect(t.observe('f', snap(10, T0 - 60_000, 8), T0 + 2000)).toBe('ready');
  });

  it('restarts the quiet period of a file seen changing while it was taken', () => {
    const t = new StabilityTracker(QUIET);
    t.observe('f', snap(10, T0 - 60_000), T0);
    t.markHandled('f');
    t.restart('f', snap(20, T0 + 100), T0 + 100);
    expect(t.observe('f', snap(20, T0 + 100), T0 + 1000)).toEqual({ settling: true, firstSight: false });
    expect(t.observe('f', snap(20, T0 + 100), T0 + 5100)).toBe('ready');
  });
});
