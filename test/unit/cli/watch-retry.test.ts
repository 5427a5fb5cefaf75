/** `lake watch` tries a file again after a failure that is not the file's fault, and only then. */
import { describe, expect, it } from '@jest/globals';
import { isMachineFailure } from '../../../cli/actions/watch.ts';
import { UserError } from '../../../cli/errors.ts';
import {
  IntentContendedError,
  ObjectChangedError,
  PublishedMeanwhileError,
  RecordTakenOverError,
  SourceSettlingError,
} from '../../../engine/index.ts';

describe('lake watch: which failures it tries again', () => {
  it('another attempt of the same source publishing or removing its earlier files at once', () => {
    expect(isMachineFailure(new SourceSettlingError('_pending/t/s.json', undefined))).toBe(true);
    expect(isMachineFailure(new RecordTakenOverError('_pending/t/s.json', 'run'))).toBe(true);
    expect(isMachineFailure(new PublishedMeanwhileError('_manifests/t/s.json', 'run', 'other'))).toBe(true);
    expect(isMachineFailure(new IntentContendedError('_pending/t/s.json', 16))).toBe(true);
    expect(isMachineFailure(new ObjectChangedError('silver', 't/part-compacted-x.parquet', '"e"'))).toBe(true);
  });

  it('not the user’s errors, nor a plain error', () => {
    expect(isMachineFailure(new UserError('bad file'))).toBe(false);
    expect(isMachineFailure(new Error('invariant'))).toBe(false);
    expect(isMachineFailure(Object.assign(new Error('disk full'), { code: 'ENOSPC' }))).toBe(true);
  });
});
