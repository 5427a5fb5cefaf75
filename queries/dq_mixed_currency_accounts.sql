-- Data quality: accounts with transactions in more than one currency.
-- Answers: for which accounts is a month-end balance (a plain sum of amounts) mixing currencies? The case
--   defines the balance as the sum of the account's transactions; this lists the accounts where that sum
--   adds up different currencies, so they can be checked before the balance is used.
-- Parameters: none.
-- Reads: silver.transactions (account_id, currency; every partition).
-- Output: account_id, currencies (number of distinct currencies), first_currency, last_currency
--   (alphabetically), row_count — ordered by account_id. No rows = every account is single-currency.
SELECT t.account_id,
       COUNT(DISTINCT t.currency) AS currencies,
       MIN(t.currency) AS first_currency,
       MAX(t.currency) AS last_currency,
       COUNT(*) AS row_count
FROM silver.transactions t
GROUP BY t.account_id
HAVING COUNT(DISTINCT t.currency) > 1
ORDER BY t.account_id
