/** A restarted fan-out execution gets a new name within Step Functions' 80 characters, its timestamp kept whole. */
import { describe, expect, it } from '@jest/globals';
import { restartExecutionName } from '../../../cli/aws/fanout.ts';

const T1 = Date.UTC(2026, 11, 1, 19, 0, 0);
const T2 = T1 + 1000;

describe('restart execution names', () => {
  it('appends the timestamp to a usual name', () => {
    expect(restartExecutionName('fan-out-0123456789abcdef01234567', T1)).toBe(
      `fan-out-0123456789abcdef01234567-restart-${T1.toString(36)}`,
    );
  });

  it('cuts a long name before the timestamp, so restarts at different times never share a name', () => {
    const long = `fan-out-${'x'.repeat(72)}`;
    const first = restartExecutionName(long, T1);
    const second = restartExecutionName(long, T2);
    expect(first.length).toBeLessThanOrEqual(80);
    expect(second.length).toBeLessThanOrEqual(80);
    expect(first.endsWith(`-restart-${T1.toString(36)}`)).toBe(true);
    expect(second).not.toBe(first);
  });

  it('a restart of a restart replaces the earlier timestamp instead of growing', () => {
    const once = restartExecutionName('fan-out-0123456789abcdef01234567', T1);
    expect(restartExecutionName(once, T2)).toBe(`fan-out-0123456789abcdef01234567-restart-${T2.toString(36)}`);
  });
});
