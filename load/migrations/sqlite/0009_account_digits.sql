-- PostgreSQL's 0009 rewrites its account-number check again (a negated character class
-- instead of translate()). SQLite's check (length and GLOB, 0001) is unchanged: nothing to do
-- here, and both engines stay at one schema version.
SELECT 1;
