import { describe, expect, it } from 'vitest';
import { rowGroupSize } from '../../../engine/transform.ts';

describe('Parquet row-group sizing', () => {
  it("uses DuckDB's default for a source touching few partitions, and bounds open row groups for many", () => {
    expect(rowGroupSize(1)).toBe(122_880);
    expect(rowGroupSize(4)).toBe(122_880);
    expect(rowGroupSize(24)).toBe(20_833);
    expect(rowGroupSize(24) * 24).toBeLessThanOrEqual(500_000);
    expect(rowGroupSize(1000)).toBe(20_000); // never tiny row groups
  });
});
