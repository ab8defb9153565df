-- As PostgreSQL's 0010: `payment_county` keys a county's lines by the county code alone (what
-- ykt's queries use), not by program, fund year and status as well.
DROP INDEX IF EXISTS payment_county;
CREATE INDEX payment_county ON payment (county_code);
