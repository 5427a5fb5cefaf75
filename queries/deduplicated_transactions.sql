-- Deduplicated transactions for a month range: one row per transaction_id, the latest ingest wins.
-- Answers: which transactions count? A transaction_id re-sent in a later file (same or corrected values)
--   counts once, with the values of the version whose source landed in bronze last (ties: source_key, then
--   source_version). versions_seen says how many copies silver holds.
-- @param from_month month 2024-01 First month of the range, YYYY-MM (inclusive)
-- @param to_month month 2024-03 Last month of the range, YYYY-MM (inclusive)
-- Reads: all columns of the range's silver.transactions partitions, plus transaction_id and the dedup columns
--   of rows elsewhere that share an id with them (a re-send may move a transaction to another month, and the
--   winner must be decided over all versions). A transaction whose winning version lies outside the range
--   is not listed.
-- Output: the silver columns of the winning version, year, month, versions_seen — ordered by time, id.
WITH in_range AS (
  SELECT DISTINCT r.transaction_id
  FROM silver.transactions r
  WHERE r.year BETWEEN substr(/*@from_month*/ '2024-01', 1, 4) AND substr(/*@to_month*/ '2024-03', 1, 4)
    AND r.year || '-' || r.month BETWEEN /*@from_month*/ '2024-01' AND /*@to_month*/ '2024-03'
),
versions AS (
  SELECT t.transaction_id, t.account_id, t.amount, t.currency, t.transaction_timestamp,
         t.source_key, t.source_version, t.ingest_run_id, t.ingested_at, t.year, t.month,
         ROW_NUMBER() OVER (
           PARTITION BY t.transaction_id
           ORDER BY t.ingested_at DESC NULLS LAST, t.source_key DESC NULLS LAST, t.source_version DESC NULLS LAST,
                    t.transaction_timestamp DESC NULLS LAST, t.amount DESC NULLS LAST, t.account_id DESC NULLS LAST,
                    t.currency DESC NULLS LAST
         ) AS version_rank,
         COUNT(*) OVER (PARTITION BY t.transaction_id) AS versions_seen
  FROM silver.transactions t
  WHERE t.transaction_id IN (SELECT i.transaction_id FROM in_range i)
)
SELECT v.transaction_id, v.account_id, v.amount, v.currency, v.transaction_timestamp,
       v.source_key, v.source_version, v.ingest_run_id, v.ingested_at, v.year, v.month, v.versions_seen
FROM versions v
WHERE v.version_rank = 1
  AND v.year || '-' || v.month BETWEEN /*@from_month*/ '2024-01' AND /*@to_month*/ '2024-03'
ORDER BY v.transaction_timestamp, v.transaction_id
