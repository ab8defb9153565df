-- Exact money in the embedded default (#14). SQLite has no decimal type: amounts stay the
-- canonical text the platform writes ('1200.00'), and each money column gains a generated
-- integer column in fen (分). SUM over the fen column is exact, where SUM over the text reads
-- each value as a float (35983970.2999999). The fen column's CHECK makes the text column as
-- strict as PostgreSQL's NUMERIC(14,2) CHECK (amount > 0): the text must be exactly the
-- canonical form of its fen value, so '0.00', '1,200.00', '12abc.00', '01.00', '1.5' and
-- anything past NUMERIC(14,2) are refused. Adding a column keeps the tables, their indexes
-- and any guard triggers as they are; the CHECKs are tested against the rows already there.
ALTER TABLE program ADD COLUMN rate_fen INTEGER
    GENERATED ALWAYS AS (CAST(replace(rate, '.', '') AS INTEGER)) VIRTUAL
    CHECK (rate IS NULL OR (rate_fen > 0 AND rate_fen < 1000000000000 AND printf('%d.%02d', rate_fen / 100, rate_fen % 100) = rate));
ALTER TABLE allocation ADD COLUMN amount_fen INTEGER
    GENERATED ALWAYS AS (CAST(replace(amount, '.', '') AS INTEGER)) VIRTUAL
    CHECK (amount_fen > 0 AND amount_fen < 100000000000000 AND printf('%d.%02d', amount_fen / 100, amount_fen % 100) = amount);
ALTER TABLE payment_batch ADD COLUMN declared_amount_fen INTEGER
    GENERATED ALWAYS AS (CAST(replace(declared_amount, '.', '') AS INTEGER)) VIRTUAL
    CHECK (declared_amount IS NULL OR (abs(declared_amount_fen) < 100000000000000 AND (CASE WHEN declared_amount_fen < 0 THEN '-' ELSE '' END) || printf('%d.%02d', abs(declared_amount_fen) / 100, abs(declared_amount_fen) % 100) = declared_amount));
ALTER TABLE payment ADD COLUMN amount_fen INTEGER
    GENERATED ALWAYS AS (CAST(replace(amount, '.', '') AS INTEGER)) VIRTUAL
    CHECK (amount_fen > 0 AND amount_fen < 100000000000000 AND printf('%d.%02d', amount_fen / 100, amount_fen % 100) = amount);

-- The totals an auditor checks, exact, in yuan as text; the same view exists on PostgreSQL:
--   SELECT * FROM money_by_county WHERE county_code = '610102';
CREATE VIEW money_by_county AS
    SELECT 'allocation' AS money_table, county_code, program_code, fund_year,
           COUNT(*) AS row_count, printf('%d.%02d', SUM(amount_fen) / 100, SUM(amount_fen) % 100) AS amount
      FROM allocation GROUP BY county_code, program_code, fund_year
    UNION ALL
    SELECT 'payment', county_code, program_code, fund_year,
           COUNT(*), printf('%d.%02d', SUM(amount_fen) / 100, SUM(amount_fen) % 100)
      FROM payment GROUP BY county_code, program_code, fund_year;
