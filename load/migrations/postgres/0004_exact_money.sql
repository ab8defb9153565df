-- The totals an auditor checks, exact, in yuan as text; the same view exists on SQLite, where
-- amounts also gain integer fen columns (see sqlite/0004_exact_money.sql):
--   SELECT * FROM money_by_county WHERE county_code = '610102';
CREATE VIEW money_by_county AS
    SELECT 'allocation' AS money_table, county_code, program_code, fund_year,
           COUNT(*) AS row_count, CAST(SUM(amount) AS TEXT) AS amount
      FROM allocation GROUP BY county_code, program_code, fund_year
    UNION ALL
    SELECT 'payment', county_code, program_code, fund_year,
           COUNT(*), CAST(SUM(amount) AS TEXT)
      FROM payment GROUP BY county_code, program_code, fund_year;
