-- Month-end balance per account for a month range (the case's question; default January–March 2024).
-- Answers: what was each account's balance at the end of each month of the range? The balance at a month end
--   is the sum of all the account's transactions (deduplicated: latest ingest wins) up to and including that
--   month, carried forward through months without activity. Every account that had a transaction by the end
--   of the range appears for every month of the range; the balance is NULL for months before its first
--   transaction. Accounts whose first transaction is after the range are not listed (the answer for a past
--   range does not change when later data arrives). Months after the latest month with data in silver are
--   NULL for every account: nothing has landed for them yet (dq_freshness.sql). Amounts are summed as booked,
--   whatever their currency (see dq_mixed_currency_accounts.sql). The month calendar spans 2000-01..2099-12.
-- @param from_month month 2024-01 First month of the range, YYYY-MM (inclusive)
-- @param to_month month 2024-03 Last month of the range, YYYY-MM (inclusive)
-- Reads: gold.account_monthly_balance, only the year/month partitions of the range. Opening balances are
--   already in gold's closing_balance, so no history before the range is scanned.
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
  SELECT c.year, c.month, c.year || '-' || c.month AS month_key
  FROM calendar c
  WHERE c.year || '-' || c.month BETWEEN /*@from_month*/ '2024-01' AND /*@to_month*/ '2024-03'
),
balances AS (
  SELECT b.account_id, b.year, b.month, b.closing_balance
  FROM gold.account_monthly_balance b
  WHERE b.year BETWEEN substr(/*@from_month*/ '2024-01', 1, 4) AND substr(/*@to_month*/ '2024-03', 1, 4)
    AND b.year || '-' || b.month BETWEEN /*@from_month*/ '2024-01' AND /*@to_month*/ '2024-03'
),
accounts AS (
  SELECT DISTINCT bal.account_id
  FROM balances bal
)
SELECT a.account_id,
       m.month_key AS month,
       b.closing_balance AS balance
FROM accounts a
CROSS JOIN months m
LEFT JOIN balances b
  ON b.account_id = a.account_id AND b.year = m.year AND b.month = m.month
ORDER BY a.account_id, m.month_key
