/** Why a whole file is rejected. Row-level codes come from the contract (MISSING_REQUIRED, MALFORMED_ROW, INVALID_*). */
export const FileReason = {
  EMPTY_FILE: 'EMPTY_FILE',
  MISSING_COLUMNS: 'MISSING_COLUMNS',
  UNREADABLE: 'UNREADABLE',
  UNKNOWN_DATASET: 'UNKNOWN_DATASET',
  /** More source columns than `MAX_SOURCE_COLUMNS`, or a CSV header longer than `MAX_HEADER_BYTES`. */
  TOO_MANY_COLUMNS: 'TOO_MANY_COLUMNS',
  /** A gzip that expands beyond the engine's expansion limits (ratio and absolute). */
  EXPANSION_LIMIT: 'EXPANSION_LIMIT',
  /**
   * The engine failed on this file in a way a retry would repeat (e.g. out of its memory limit, or its own
   * bookkeeping disagreeing): the file is kept whole so it can be replayed once the cause is fixed.
   */
  PROCESSING_FAILED: 'PROCESSING_FAILED',
  /**
   * A file routed to the fan-out (too large for one invocation) that cannot be cut into chunks (JSON Lines,
   * quotes or line ends the byte scan cannot vouch for, a rejected header): its
   * text is larger than one invocation transforms, so it is kept whole instead of timing out on every retry.
   */
  TOO_LARGE_FOR_ONE_PASS: 'TOO_LARGE_FOR_ONE_PASS',
} as const;
export type FileReason = (typeof FileReason)[keyof typeof FileReason];

export const RowReason = {
  MISSING_REQUIRED: 'MISSING_REQUIRED',
  MALFORMED_ROW: 'MALFORMED_ROW',
  /** Longer than the engine's record limit: quarantined with the start of its bytes, never given to the reader. */
  RECORD_TOO_LARGE: 'RECORD_TOO_LARGE',
} as const;

/** A data problem with the whole file: it is quarantined whole with this reason, never retried. */
export class FileRejection extends Error {
  constructor(
    readonly reason: FileReason,
    readonly detail: string,
  ) {
    super(`${reason}: ${detail}`);
    this.name = 'FileRejection';
  }
}

/** The engine's own bookkeeping broke (e.g. conservation did not hold). A bug, never a data problem. */
export class EngineInvariantError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'EngineInvariantError';
  }
}
