/** Why a whole file is rejected. Row-level codes come from the contract (MISSING_REQUIRED, MALFORMED_ROW, INVALID_*). */
export const FileReason = {
  EMPTY_FILE: 'EMPTY_FILE',
  MISSING_COLUMNS: 'MISSING_COLUMNS',
  UNREADABLE: 'UNREADABLE',
  UNKNOWN_DATASET: 'UNKNOWN_DATASET',
} as const;
export type FileReason = (typeof FileReason)[keyof typeof FileReason];

export const RowReason = {
  MISSING_REQUIRED: 'MISSING_REQUIRED',
  MALFORMED_ROW: 'MALFORMED_ROW',
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
