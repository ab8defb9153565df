-- What the county searches by to find a rejected row at the source (#14): the row's person
-- (DXID) and batch (PCID) keys and its own name, ID number, area code, batch number, program,
-- fund year and amount, as the legacy row holds them. Reports mask the ID number.
ALTER TABLE migration_reject ADD COLUMN person_key TEXT;
ALTER TABLE migration_reject ADD COLUMN batch_key TEXT;
ALTER TABLE migration_reject ADD COLUMN name TEXT;
ALTER TABLE migration_reject ADD COLUMN id_number TEXT;
ALTER TABLE migration_reject ADD COLUMN area_code TEXT;
ALTER TABLE migration_reject ADD COLUMN batch_no TEXT;
ALTER TABLE migration_reject ADD COLUMN program_code TEXT;
ALTER TABLE migration_reject ADD COLUMN fund_year TEXT;
ALTER TABLE migration_reject ADD COLUMN amount TEXT;
