-- PostgreSQL's 0007 rewrites its account-number check without a regular expression. SQLite's
-- check (length and GLOB, 0001) is already the same rule without one: nothing to change here,
-- and both engines stay at one schema version.
SELECT 1;
