/** How long each zone keeps its objects, and when bronze moves to cheaper storage. */
export interface LakeRetention {
  /**
   * Days after which bronze objects move to S3 Standard-IA (S3 requires at least 30).
   * @default 30
   */
  readonly bronzeInfrequentAccessAfterDays?: number;
  /**
   * Days after which bronze objects move to S3 Glacier Instant Retrieval, which keeps them replayable
   * without a restore job.
   * @default 90
   */
  readonly bronzeArchiveAfterDays?: number;
  /**
   * Days after which silver and gold objects move to S3 Intelligent-Tiering: months analysts still query stay
   * in its frequent tier, cold ones drop to cheaper tiers automatically, with no retrieval fee and no change
   * for Athena. (Objects under 128 KB, such as manifests, are not transitioned.)
   * @default 30
   */
  readonly curatedIntelligentTieringAfterDays?: number;
  /**
   * Days a replaced or deleted object version is kept in the versioned zones (bronze, silver, gold, quarantine).
   * @default 30
   */
  readonly noncurrentVersionExpirationDays?: number;
  /**
   * Days a replaced or deleted bronze object version is kept: the raw data's undo window. With Object Lock on
   * bronze it must be at least the lock's retention.
   * @default - `noncurrentVersionExpirationDays`
   */
  readonly bronzeNoncurrentVersionExpirationDays?: number;
  /**
   * Days after which quarantined records and files are deleted.
   * @default 90
   */
  readonly quarantineExpirationDays?: number;
  /**
   * Days after which Athena query results are deleted.
   * @default 30
   */
  readonly athenaResultsExpirationDays?: number;
  /**
   * Days after which S3 server access logs are deleted.
   * @default 365
   */
  readonly accessLogsExpirationDays?: number;
}

export const DEFAULT_RETENTION: Required<Omit<LakeRetention, 'bronzeNoncurrentVersionExpirationDays'>> = {
  bronzeInfrequentAccessAfterDays: 30,
  bronzeArchiveAfterDays: 90,
  curatedIntelligentTieringAfterDays: 30,
  noncurrentVersionExpirationDays: 30,
  quarantineExpirationDays: 90,
  athenaResultsExpirationDays: 30,
  accessLogsExpirationDays: 365,
};

/** Fills in defaults and rejects combinations S3 would refuse at deploy time. */
export function resolveRetention(retention: LakeRetention = {}): Required<LakeRetention> {
  const merged = { ...DEFAULT_RETENTION, ...definedOnly(retention) };
  const resolved: Required<LakeRetention> = {
    ...merged,
    bronzeNoncurrentVersionExpirationDays:
      merged.bronzeNoncurrentVersionExpirationDays ?? merged.noncurrentVersionExpirationDays,
  };
  for (const [name, days] of Object.entries(resolved)) {
    if (!Number.isInteger(days) || days < 1)
      throw new Error(`retention.${name} must be a positive whole number of days (got ${days})`);
  }
  if (resolved.bronzeInfrequentAccessAfterDays < 30) {
    throw new Error(
      'retention.bronzeInfrequentAccessAfterDays must be at least 30 (an S3 rule for Standard-IA transitions)',
    );
  }
  if (resolved.bronzeArchiveAfterDays < resolved.bronzeInfrequentAccessAfterDays + 30) {
    throw new Error(
      'retention.bronzeArchiveAfterDays must be at least 30 days after bronzeInfrequentAccessAfterDays (objects stay 30 days in Standard-IA)',
    );
  }
  return resolved;
}

function definedOnly<T extends object>(value: T): Partial<T> {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as Partial<T>;
}
