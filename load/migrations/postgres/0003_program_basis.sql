-- T_BTXM is a reference table whose every row is loaded: a basis (BZLX) that does not read is
-- cleared to NULL with C_VALUE_CLEARED instead of rejecting the program and all its lines.
ALTER TABLE program ALTER COLUMN basis DROP NOT NULL;
