-- Data quality: completeness of the required fields of silver.transactions for a month range.
-- Answers: are the contract's required fields filled in every silver row? Ingest rejects rows missing one, so
--   anything below 1.0 here is an engine or contract defect, not a data problem. Records that arrived
--   incomplete are counted by dq_quarantine_rate_by_reason.sql (reason MISSING_REQUIRED).
--   Blank means NULL or only spaces.
-- @param from_month month 2024-01 First month of the range, YYYY-MM (inclusive)
-- @param to_month month 2024-03 Last month of the range, YYYY-MM (inclusive)
-- Reads: silver.transactions, only the year/month partitions of the range.
-- Output: field, rows_checked, rows_missing, completeness (0..1, 6 decimals) — in contract order.
WITH stats AS (
  SELECT COUNT(*) AS rows_checked,
         SUM(CASE WHEN t.transaction_id IS NULL OR trim(t.transaction_id) = '' THEN 1 ELSE 0 END) AS missing_transaction_id,
         SUM(CASE WHEN t.account_id IS NULL OR trim(t.account_id) = '' THEN 1 ELSE 0 END) AS missing_account_id,
         SUM(CASE WHEN t.amount IS NULL THEN 1 ELSE 0 END) AS missing_amount,
         SUM(CASE WHEN t.currency IS NULL OR trim(t.currency) = '' THEN 1 ELSE 0 END) AS missing_currency,
         SUM(CASE WHEN t.transaction_timestamp IS NULL THEN 1 ELSE 0 END) AS missing_transaction_timestamp
  FROM silver.transactions t
  WHERE t.year BETWEEN substr(/*@from_month*/ '2024-01', 1, 4) AND substr(/*@to_month*/ '2024-03', 1, 4)
    AND t.year || '-' || t.month BETWEEN /*@from_month*/ '2024-01' AND /*@to_month*/ '2024-03'
),
fields (position, field) AS (
  VALUES (1, 'transaction_id'), (2, 'account_id'), (3, 'amount'), (4, 'currency'), (5, 'transaction_timestamp')
),
missing AS (
  SELECT f.position, f.field, s.rows_checked,
         CAST(COALESCE(CASE f.field
           WHEN 'transaction_id' THEN s.missing_transaction_id
           WHEN 'account_id' THEN s.missing_account_id
           WHEN 'amount' THEN s.missing_amount
           WHEN 'currency' THEN s.missing_currency
           WHEN 'transaction_timestamp' THEN s.missing_transaction_timestamp
         END, 0) AS bigint) AS rows_missing
  FROM fields f
  CROSS JOIN stats s
)
SELECT m.field,
       m.rows_checked,
       m.rows_missing,
       round(1 - CAST(m.rows_missing AS double) / CAST(NULLIF(m.rows_checked, 0) AS double), 6) AS completeness
FROM missing m
ORDER BY m.position
