-- Account numbers are ASCII digits (the check of 0007): their order is the same in every
-- collation, so they compare byte by byte ("C"), never through the locale. Building the
-- account index of the county preset's payment lines took 2.2 s in the database's C.UTF-8
-- collation and 1.3 s in "C" (PostgreSQL 15). Both tables change together: a comparison of
-- the two columns needs one collation.
ALTER TABLE payment ALTER COLUMN account_no TYPE VARCHAR(30) COLLATE "C";
ALTER TABLE beneficiary ALTER COLUMN account_no TYPE VARCHAR(30) COLLATE "C";
