-- Data quality: duplicate transaction ids in silver.transactions (resolved by "latest ingest wins").
-- Answers: how many rows are extra copies of a transaction_id, and what kind of duplicates are they?
--   resent_ids: ids present in more than one source (re-sent in a later file); within_source_ids: ids
--   repeated inside one source; conflicting_ids: copies disagree on account, amount, currency or time (the
--   latest ingest's values win); cross_month_ids: copies fall in different months (such a re-send changes
--   the balances of both months).
-- Parameters: none (duplicates are resolved over all history, so they are counted over all history).
-- Reads: silver.transactions, every partition (id, payload and lineage columns).
-- Output: one row: total_rows, distinct_ids, duplicate_rows (= total_rows − distinct_ids), duplicated_ids,
--   resent_ids, within_source_ids, conflicting_ids, cross_month_ids, duplicate_rate (0..1, 6 decimals).
WITH per_id AS (
  SELECT t.transaction_id,
         COUNT(*) AS copies,
         COUNT(DISTINCT t.ingest_run_id) AS runs,
         CASE WHEN MIN(t.account_id) <> MAX(t.account_id)
                OR MIN(t.amount) <> MAX(t.amount)
                OR MIN(t.currency) <> MAX(t.currency)
                OR MIN(t.transaction_timestamp) <> MAX(t.transaction_timestamp)
              THEN 1 ELSE 0 END AS conflicting,
         CASE WHEN MIN(t.year || '-' || t.month) <> MAX(t.year || '-' || t.month) THEN 1 ELSE 0 END AS cross_month
  FROM silver.transactions t
  GROUP BY t.transaction_id
)
SELECT CAST(SUM(p.copies) AS bigint) AS total_rows,
       COUNT(*) AS distinct_ids,
       CAST(SUM(p.copies) - COUNT(*) AS bigint) AS duplicate_rows,
       CAST(SUM(CASE WHEN p.copies > 1 THEN 1 ELSE 0 END) AS bigint) AS duplicated_ids,
       CAST(SUM(CASE WHEN p.runs > 1 THEN 1 ELSE 0 END) AS bigint) AS resent_ids,
       CAST(SUM(CASE WHEN p.copies > p.runs THEN 1 ELSE 0 END) AS bigint) AS within_source_ids,
       CAST(SUM(p.conflicting) AS bigint) AS conflicting_ids,
       CAST(SUM(p.cross_month) AS bigint) AS cross_month_ids,
       round(CAST(SUM(p.copies) - COUNT(*) AS double) / CAST(NULLIF(SUM(p.copies), 0) AS double), 6) AS duplicate_rate
FROM per_id p
