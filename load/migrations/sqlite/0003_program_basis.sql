-- ykt: foreign keys off
-- T_BTXM is a reference table whose every row is loaded: a basis (BZLX) that does not read is
-- cleared to NULL with C_VALUE_CLEARED instead of rejecting the program and all its lines.
-- SQLite cannot drop a NOT NULL: the table is rebuilt (its children keep referring to
-- "program" by name), with foreign keys off as SQLite's own procedure for this asks.
CREATE TABLE program_rebuilt (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    department TEXT NOT NULL,
    basis      TEXT CHECK (basis IS NULL OR basis IN ('area', 'person', 'household', 'fixed')),
    rate       TEXT CHECK (rate IS NULL OR (typeof(rate) = 'text' AND rate GLOB '[0-9]*.[0-9][0-9]')),
    CHECK (basis IS NULL OR basis <> 'fixed' OR rate IS NULL)
);
INSERT INTO program_rebuilt (code, name, department, basis, rate)
    SELECT code, name, department, basis, rate FROM program;
DROP TABLE program;
ALTER TABLE program_rebuilt RENAME TO program;
