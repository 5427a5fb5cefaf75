-- Data quality: freshness of the transactions dataset across the zones.
-- Answers: when did data last land, how recent is the newest transaction, and is gold up to date with silver?
--   gold_up_to_date is false while a refresh is pending (gold's latest month lags silver's). hours_since_ingest
--   is measured against the query's clock in UTC (second precision: the engines may differ by one second).
-- Parameters: none.
-- Reads: silver.transactions (ingested_at, transaction_timestamp and the partition keys; every partition),
--   quarantine.transactions (ingested_at), gold.account_monthly_balance (partition keys). Runs in the platform
--   workgroup (it reads quarantine).
-- @workgroup platform
-- Output: one row per dataset: dataset, latest_ingested_at, latest_transaction_at, latest_silver_month,
--   latest_gold_month, gold_up_to_date, sources_ingested, hours_since_ingest.
WITH silver_stats AS (
  SELECT MAX(s.ingested_at) AS latest_ingested_at,
         MAX(s.transaction_timestamp) AS latest_transaction_at,
         MAX(s.year || '-' || s.month) AS latest_silver_month,
         COUNT(DISTINCT s.source_key || '#' || COALESCE(s.source_version, '')) AS silver_sources
  FROM silver.transactions s
),
quarantine_stats AS (
  SELECT MAX(q.ingested_at) AS latest_ingested_at
  FROM quarantine.transactions q
),
gold_stats AS (
  SELECT MAX(g.year || '-' || g.month) AS latest_gold_month
  FROM gold.account_monthly_balance g
),
latest AS (
  SELECT s.latest_transaction_at, s.latest_silver_month, s.silver_sources, g.latest_gold_month,
         CASE
           WHEN q.latest_ingested_at IS NULL THEN s.latest_ingested_at
           WHEN s.latest_ingested_at IS NULL THEN q.latest_ingested_at
           WHEN q.latest_ingested_at > s.latest_ingested_at THEN q.latest_ingested_at
           ELSE s.latest_ingested_at
         END AS latest_ingested_at
  FROM silver_stats s
  CROSS JOIN quarantine_stats q
  CROSS JOIN gold_stats g
)
SELECT 'transactions' AS dataset,
       l.latest_ingested_at,
       l.latest_transaction_at,
       l.latest_silver_month,
       l.latest_gold_month,
       COALESCE(l.latest_gold_month = l.latest_silver_month, false) AS gold_up_to_date,
       l.silver_sources AS sources_ingested,
       round(CAST(date_diff('second', l.latest_ingested_at, CAST(current_timestamp AT TIME ZONE 'UTC' AS timestamp)) AS double) / 3600, 2) AS hours_since_ingest
FROM latest l
