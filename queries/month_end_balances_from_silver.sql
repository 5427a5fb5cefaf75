-- Month-end balance per account, computed straight from silver (reference / reconciliation query).
-- Answers: the same question as month_end_balances.sql, with the same output, without the gold layer. Use it
--   to reconcile gold (both must return identical rows) or when gold is not refreshed yet. Same semantics:
--   NULL before an account's first transaction and after the latest month with data in silver.
-- @param from_month month 2024-01 First month of the range, YYYY-MM (inclusive)
-- @param to_month month 2024-03 Last month of the range, YYYY-MM (inclusive)
-- Reads: every partition of silver.transactions (deduplication is global and opening balances need all
--   history). A full scan: at the case's scale use month_end_balances.sql, which reads gold.
-- Output: account_id, month (YYYY-MM), balance decimal(38,2) — ordered by account_id, month.
WITH digits (d) AS (
  VALUES (0), (1), (2), (3), (4), (5), (6), (7), (8), (9)
),
month_numbers (month) AS (
  VALUES ('01'), ('02'), ('03'), ('04'), ('05'), ('06'), ('07'), ('08'), ('09'), ('10'), ('11'), ('12')
),
calendar AS (
  SELECT CAST(2000 + 10 * tens.d + ones.d AS varchar) AS year, n.month
  FROM digits tens
  CROSS JOIN digits ones
  CROSS JOIN month_numbers n
),
months AS (
  SELECT c.year || '-' || c.month AS month_key
  FROM calendar c
  WHERE c.year || '-' || c.month BETWEEN /*@from_month*/ '2024-01' AND /*@to_month*/ '2024-03'
),
ranked AS (
  SELECT t.account_id, t.amount, t.year || '-' || t.month AS month_key,
         ROW_NUMBER() OVER (
           PARTITION BY t.transaction_id
           ORDER BY t.ingested_at DESC NULLS LAST, t.source_key DESC NULLS LAST, t.source_version DESC NULLS LAST,
                    t.transaction_timestamp DESC NULLS LAST, t.amount DESC NULLS LAST, t.account_id DESC NULLS LAST,
                    t.currency DESC NULLS LAST
         ) AS version_rank
  FROM silver.transactions t
),
latest AS (
  SELECT r.account_id, r.amount, r.month_key
  FROM ranked r
  WHERE r.version_rank = 1 AND r.month_key <= /*@to_month*/ '2024-03'
),
accounts AS (
  SELECT l.account_id
  FROM latest l
  GROUP BY l.account_id
),
horizon AS (
  SELECT MAX(h.year || '-' || h.month) AS last_month
  FROM silver.transactions h
)
SELECT a.account_id,
       m.month_key AS month,
       CAST(SUM(l.amount) AS decimal(38,2)) AS balance
FROM accounts a
CROSS JOIN months m
CROSS JOIN horizon h
LEFT JOIN latest l
  ON l.account_id = a.account_id AND l.month_key <= m.month_key AND m.month_key <= h.last_month
GROUP BY a.account_id, m.month_key
ORDER BY a.account_id, m.month_key
