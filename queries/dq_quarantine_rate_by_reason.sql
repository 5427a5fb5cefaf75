-- Data quality: quarantine rate by reason, over everything ingested for the transactions dataset.
-- Answers: what share of received records was rejected, and why? rows_in = valid rows (silver) + rejected
--   records (quarantine), i.e. the manifests' rows_in summed over sources. A record with several reasons
--   counts under each, so the per-reason rates may add up to more than the ALL_REASONS rate, which is the
--   one the 1% alert watches. Whole-file rejections (EMPTY_FILE, MISSING_COLUMNS, UNREADABLE, …) have no
--   per-record rows: they are counted in rejected_files, not in the rates.
-- Parameters: none.
-- Reads: silver.transactions (source_key only; every partition) and quarantine.transactions (every file).
--   Runs in the platform workgroup: analysts are not granted the quarantine database.
-- @workgroup platform
-- Output: reason, quarantined_rows, rows_in, quarantine_rate (0..1, 6 decimals), rejected_files,
--   above_threshold (rate > 0.01) — ALL_REASONS first, then by quarantined_rows descending.
WITH received AS (
  SELECT COUNT(*) AS row_count
  FROM silver.transactions s
  UNION ALL
  SELECT COUNT(*) AS row_count
  FROM quarantine.transactions q
  WHERE q.record_number IS NOT NULL
),
totals AS (
  SELECT CAST(SUM(r.row_count) AS bigint) AS rows_in
  FROM received r
),
record_reasons AS (
  SELECT u.reason, COUNT(*) AS quarantined_rows, CAST(0 AS bigint) AS rejected_files
  FROM quarantine.transactions q
  CROSS JOIN UNNEST(q.reasons) AS u (reason)
  WHERE q.record_number IS NOT NULL
  GROUP BY u.reason
  UNION ALL
  SELECT 'ALL_REASONS' AS reason, COUNT(*) AS quarantined_rows, CAST(0 AS bigint) AS rejected_files
  FROM quarantine.transactions q
  WHERE q.record_number IS NOT NULL
),
file_reasons AS (
  SELECT u.reason, CAST(0 AS bigint) AS quarantined_rows, COUNT(*) AS rejected_files
  FROM quarantine.transactions q
  CROSS JOIN UNNEST(q.reasons) AS u (reason)
  WHERE q.record_number IS NULL
  GROUP BY u.reason
),
by_reason AS (
  SELECT x.reason, CAST(SUM(x.quarantined_rows) AS bigint) AS quarantined_rows, CAST(SUM(x.rejected_files) AS bigint) AS rejected_files
  FROM (
    SELECT rr.reason, rr.quarantined_rows, rr.rejected_files FROM record_reasons rr
    UNION ALL
    SELECT fr.reason, fr.quarantined_rows, fr.rejected_files FROM file_reasons fr
  ) x
  GROUP BY x.reason
)
SELECT b.reason,
       b.quarantined_rows,
       t.rows_in,
       round(CAST(b.quarantined_rows AS double) / CAST(NULLIF(t.rows_in, 0) AS double), 6) AS quarantine_rate,
       b.rejected_files,
       CAST(b.quarantined_rows AS double) / CAST(NULLIF(t.rows_in, 0) AS double) > 0.01 AS above_threshold
FROM by_reason b
CROSS JOIN totals t
ORDER BY CASE WHEN b.reason = 'ALL_REASONS' THEN 0 ELSE 1 END, b.quarantined_rows DESC, b.reason
