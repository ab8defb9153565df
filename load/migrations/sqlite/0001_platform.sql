-- The new platform's core tables (new-platform.md) and the migration's bookkeeping, for the
-- embedded default. Money is TEXT holding the canonical decimal string ('1200.00'), never REAL;
-- dates are ISO 'YYYY-MM-DD' text; booleans are 0/1.

CREATE TABLE region (
    code        TEXT    PRIMARY KEY CHECK (length(code) IN (6, 9, 12) AND code NOT GLOB '*[^0-9]*'),
    name        TEXT    NOT NULL,
    level       INTEGER NOT NULL CHECK (level BETWEEN 1 AND 5),
    parent_code TEXT
);

CREATE TABLE program (
    code       TEXT PRIMARY KEY,
    name       TEXT NOT NULL,
    department TEXT NOT NULL,
    basis      TEXT NOT NULL CHECK (basis IN ('area', 'person', 'household', 'fixed')),
    rate       TEXT CHECK (rate IS NULL OR (typeof(rate) = 'text' AND rate GLOB '[0-9]*.[0-9][0-9]')),
    CHECK (basis <> 'fixed' OR rate IS NULL)
);

CREATE TABLE allocation (
    id           INTEGER PRIMARY KEY,
    county_code  TEXT    NOT NULL CHECK (length(county_code) = 6),
    program_code TEXT    NOT NULL REFERENCES program (code) DEFERRABLE INITIALLY DEFERRED,
    fund_year    INTEGER NOT NULL CHECK (fund_year BETWEEN 2000 AND 2030),
    doc_no       TEXT,
    amount       TEXT    NOT NULL CHECK (typeof(amount) = 'text' AND amount GLOB '[0-9]*.[0-9][0-9]'),
    issued_on    TEXT    CHECK (issued_on IS NULL OR date(issued_on) = issued_on),
    legacy_zbid  INTEGER UNIQUE
);
CREATE INDEX allocation_county ON allocation (county_code, program_code, fund_year);

CREATE TABLE beneficiary (
    id                       INTEGER PRIMARY KEY,
    id_number                TEXT    NOT NULL UNIQUE CHECK (length(id_number) = 18 AND substr(id_number, 1, 17) NOT GLOB '*[^0-9]*' AND substr(id_number, 18) GLOB '[0-9X]'),
    name                     TEXT    NOT NULL CHECK (name <> ''),
    county_code              TEXT    NOT NULL CHECK (length(county_code) = 6),
    area_code                TEXT,
    address                  TEXT,
    phone                    TEXT,
    account_no               TEXT    CHECK (account_no IS NULL OR (length(account_no) BETWEEN 8 AND 30 AND account_no NOT GLOB '*[^0-9]*')),
    bank_name                TEXT,
    household_head_id_number TEXT    CHECK (household_head_id_number IS NULL OR length(household_head_id_number) = 18),
    status                   TEXT    NOT NULL CHECK (status IN ('active', 'suspended', 'deceased')),
    deceased_on              TEXT    CHECK (deceased_on IS NULL OR date(deceased_on) = deceased_on)
);
CREATE INDEX beneficiary_county ON beneficiary (county_code);

CREATE TABLE beneficiary_legacy_map (
    legacy_dxid    INTEGER PRIMARY KEY,
    beneficiary_id INTEGER NOT NULL REFERENCES beneficiary (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX beneficiary_legacy_map_beneficiary ON beneficiary_legacy_map (beneficiary_id);

CREATE TABLE payment_batch (
    id              INTEGER PRIMARY KEY,
    batch_no        TEXT    NOT NULL,
    county_code     TEXT    NOT NULL CHECK (length(county_code) = 6),
    program_code    TEXT    NOT NULL REFERENCES program (code) DEFERRABLE INITIALLY DEFERRED,
    fund_year       INTEGER NOT NULL CHECK (fund_year BETWEEN 2000 AND 2030),
    period          TEXT    CHECK (period IS NULL OR (length(period) = 6 AND period NOT GLOB '*[^0-9]*')),
    allocation_id   INTEGER REFERENCES allocation (id) DEFERRABLE INITIALLY DEFERRED,
    announce_from   TEXT    CHECK (announce_from IS NULL OR date(announce_from) = announce_from),
    announce_to     TEXT    CHECK (announce_to IS NULL OR date(announce_to) = announce_to),
    status          TEXT    NOT NULL CHECK (status IN ('entered', 'reviewed', 'announcing', 'announced', 'sent', 'returned', 'void')),
    declared_count  INTEGER,
    declared_amount TEXT    CHECK (declared_amount IS NULL OR (typeof(declared_amount) = 'text' AND declared_amount GLOB '*[0-9].[0-9][0-9]')),
    entered_by      TEXT,
    reviewed_by     TEXT,
    legacy_pcid     INTEGER UNIQUE
);
CREATE INDEX payment_batch_county ON payment_batch (county_code, program_code, fund_year);

CREATE TABLE payment (
    id               INTEGER PRIMARY KEY,
    batch_id         INTEGER NOT NULL REFERENCES payment_batch (id) DEFERRABLE INITIALLY DEFERRED,
    beneficiary_id   INTEGER NOT NULL REFERENCES beneficiary (id) DEFERRABLE INITIALLY DEFERRED,
    county_code      TEXT    NOT NULL CHECK (length(county_code) = 6),
    program_code     TEXT    NOT NULL REFERENCES program (code) DEFERRABLE INITIALLY DEFERRED,
    fund_year        INTEGER NOT NULL CHECK (fund_year BETWEEN 2000 AND 2030),
    quantity         TEXT    CHECK (quantity IS NULL OR (typeof(quantity) = 'text' AND quantity GLOB '*[0-9].[0-9][0-9]')),
    amount           TEXT    NOT NULL CHECK (typeof(amount) = 'text' AND amount GLOB '[0-9]*.[0-9][0-9]'),
    account_no       TEXT    CHECK (account_no IS NULL OR (length(account_no) BETWEEN 8 AND 30 AND account_no NOT GLOB '*[^0-9]*')),
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'refunded', 'reissued')),
    paid_on          TEXT    CHECK (paid_on IS NULL OR date(paid_on) = paid_on),
    bank_serial      TEXT,
    failure_reason   TEXT,
    reissue_of       INTEGER REFERENCES payment (id) DEFERRABLE INITIALLY DEFERRED,
    system_of_record TEXT    NOT NULL CHECK (system_of_record IN ('legacy', 'new')),
    legacy_mxid      INTEGER UNIQUE
);
CREATE INDEX payment_batch_id ON payment (batch_id);
CREATE INDEX payment_beneficiary ON payment (beneficiary_id, program_code, fund_year);
CREATE INDEX payment_county ON payment (county_code, program_code, fund_year, status);
CREATE INDEX payment_account ON payment (account_no, fund_year) WHERE account_no IS NOT NULL;
CREATE INDEX payment_reissue_of ON payment (reissue_of) WHERE reissue_of IS NOT NULL;

CREATE TABLE platform_user (
    id          INTEGER PRIMARY KEY,
    login       TEXT    NOT NULL UNIQUE,
    name        TEXT    NOT NULL,
    id_number   TEXT    NOT NULL CHECK (length(id_number) = 18),
    unit_name   TEXT    NOT NULL,
    region_code TEXT    NOT NULL,
    role        TEXT    NOT NULL CHECK (role IN ('finance', 'department', 'township', 'admin')),
    post        TEXT    CHECK (post IN ('01', '02')),
    active      INTEGER NOT NULL CHECK (active IN (0, 1))
);

-- Bookkeeping: one row per migration run, and the county steps each run has completed
-- (foreign keys are checked at commit, so a county can be replaced inside one transaction).
CREATE TABLE migration_run (
    run_id             TEXT PRIMARY KEY,
    command            TEXT NOT NULL,
    started_at         TEXT NOT NULL,
    finished_at        TEXT,
    status             TEXT NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    ykt_version        TEXT NOT NULL,
    source_fingerprint TEXT,
    stage_dir          TEXT,
    parameters         TEXT
);

CREATE TABLE migration_checkpoint (
    run_id       TEXT    NOT NULL REFERENCES migration_run (run_id) DEFERRABLE INITIALLY DEFERRED,
    county_code  TEXT    NOT NULL,
    completed_at TEXT    NOT NULL,
    step         TEXT    NOT NULL CHECK (step IN ('people', 'money')),
    rows_loaded  INTEGER NOT NULL,
    PRIMARY KEY (run_id, county_code, step)
);

-- Foreign keys a full load set aside, to be validated and put back in one pass at its end
-- (or when a crashed load is resumed).
CREATE TABLE migration_pending_constraint (
    table_name TEXT NOT NULL,
    name       TEXT NOT NULL,
    definition TEXT NOT NULL,
    PRIMARY KEY (table_name, name)
);

-- Every legacy row that was not loaded, once per run, with the first failing rule.
CREATE TABLE migration_reject (
    run_id       TEXT NOT NULL,
    source_table TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    county_code  TEXT NOT NULL,
    reason_code  TEXT NOT NULL CHECK (reason_code GLOB 'R_*'),
    field        TEXT,
    raw_value    TEXT,
    detail       TEXT NOT NULL,
    PRIMARY KEY (run_id, source_table, source_key)
);
CREATE INDEX migration_reject_county ON migration_reject (run_id, county_code, reason_code);

-- Every value changed on the way in: one row per field and code.
CREATE TABLE migration_correction (
    run_id          TEXT NOT NULL,
    source_table    TEXT NOT NULL,
    source_key      TEXT NOT NULL,
    county_code     TEXT NOT NULL,
    correction_code TEXT NOT NULL CHECK (correction_code GLOB 'C_*'),
    field           TEXT NOT NULL,
    "before"        TEXT,
    "after"         TEXT,
    PRIMARY KEY (run_id, source_table, source_key, field, correction_code)
);
CREATE INDEX migration_correction_county ON migration_correction (run_id, county_code, correction_code);
