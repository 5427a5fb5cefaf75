-- Data quality: quarantine rate by source object (one row per ingested bronze object version).
-- Answers: which files brought bad records, how many, and which files were rejected whole? rows_in =
--   valid rows (silver) + rejected records (quarantine) of that source, as in its manifest.
-- Parameters: none.
-- Reads: silver.transactions (lineage columns only; every partition) and quarantine.transactions (every
--   file). Runs in the platform workgroup: analysts are not granted the quarantine database.
-- @workgroup platform
-- Output: source_key, source_version, ingested_at, rows_in, rows_valid, rows_quarantined, quarantine_rate
--   (0..1, 6 decimals), above_threshold (rate > 0.01), file_rejection_reason (NULL unless rejected whole)
--   — latest ingest first.
WITH valid AS (
  SELECT s.source_key, s.source_version, MAX(s.ingested_at) AS ingested_at, COUNT(*) AS rows_valid
  FROM silver.transactions s
  GROUP BY s.source_key, s.source_version
),
rejected AS (
  SELECT q.source_key, q.source_version, MAX(q.ingested_at) AS ingested_at,
         SUM(CASE WHEN q.record_number IS NOT NULL THEN 1 ELSE 0 END) AS rows_quarantined,
         MAX(CASE WHEN q.record_number IS NULL THEN q.reasons[1] END) AS file_rejection_reason
  FROM quarantine.transactions q
  GROUP BY q.source_key, q.source_version
),
sources AS (
  SELECT COALESCE(v.source_key, r.source_key) AS source_key,
         COALESCE(v.source_version, r.source_version) AS source_version,
         COALESCE(v.ingested_at, r.ingested_at) AS ingested_at,
         CAST(COALESCE(v.rows_valid, 0) AS bigint) AS rows_valid,
         CAST(COALESCE(r.rows_quarantined, 0) AS bigint) AS rows_quarantined,
         r.file_rejection_reason
  FROM valid v
  FULL OUTER JOIN rejected r
    ON r.source_key = v.source_key AND r.source_version = v.source_version
)
SELECT s.source_key,
       s.source_version,
       s.ingested_at,
       s.rows_valid + s.rows_quarantined AS rows_in,
       s.rows_valid,
       s.rows_quarantined,
       round(CAST(s.rows_quarantined AS double) / CAST(NULLIF(s.rows_valid + s.rows_quarantined, 0) AS double), 6) AS quarantine_rate,
       CAST(s.rows_quarantined AS double) / CAST(NULLIF(s.rows_valid + s.rows_quarantined, 0) AS double) > 0.01 AS above_threshold,
       s.file_rejection_reason
FROM sources s
ORDER BY s.ingested_at DESC, s.source_key, s.source_version
