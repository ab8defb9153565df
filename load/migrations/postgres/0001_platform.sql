-- The new platform's core tables (new-platform.md) and the migration's bookkeeping.
-- Money is NUMERIC(14,2); every migrated row keeps the legacy key it came from.

CREATE TABLE region (
    code        VARCHAR(12) PRIMARY KEY CHECK (code ~ '^[0-9]{6}([0-9]{3}){0,2}$'),
    name        TEXT        NOT NULL,
    level       SMALLINT    NOT NULL CHECK (level BETWEEN 1 AND 5),
    parent_code VARCHAR(12)
);

CREATE TABLE program (
    code       VARCHAR(10) PRIMARY KEY,
    name       TEXT        NOT NULL,
    department TEXT        NOT NULL,
    basis      TEXT        NOT NULL CHECK (basis IN ('area', 'person', 'household', 'fixed')),
    rate       NUMERIC(12,2) CHECK (rate > 0),
    CHECK (basis <> 'fixed' OR rate IS NULL)
);

CREATE TABLE allocation (
    id           BIGINT        PRIMARY KEY,
    county_code  CHAR(6)       NOT NULL,
    program_code VARCHAR(10)   NOT NULL REFERENCES program (code) DEFERRABLE INITIALLY DEFERRED,
    fund_year    SMALLINT      NOT NULL CHECK (fund_year BETWEEN 2000 AND 2030),
    doc_no       TEXT,
    amount       NUMERIC(14,2) NOT NULL CHECK (amount > 0),
    issued_on    DATE,
    legacy_zbid  BIGINT        UNIQUE
);
CREATE INDEX allocation_county ON allocation (county_code, program_code, fund_year);

CREATE TABLE beneficiary (
    id                       BIGINT      PRIMARY KEY,
    id_number                CHAR(18)    NOT NULL UNIQUE CHECK (id_number ~ '^[0-9]{17}[0-9X]$'),
    name                     TEXT        NOT NULL CHECK (name <> ''),
    county_code              CHAR(6)     NOT NULL,
    area_code                VARCHAR(12),
    address                  TEXT,
    phone                    TEXT,
    account_no               VARCHAR(30) CHECK (account_no ~ '^[0-9]{8,30}$'),
    bank_name                TEXT,
    household_head_id_number CHAR(18)    CHECK (household_head_id_number ~ '^[0-9]{17}[0-9X]$'),
    status                   TEXT        NOT NULL CHECK (status IN ('active', 'suspended', 'deceased')),
    deceased_on              DATE
);
CREATE INDEX beneficiary_county ON beneficiary (county_code);

CREATE TABLE beneficiary_legacy_map (
    legacy_dxid    BIGINT PRIMARY KEY,
    beneficiary_id BIGINT NOT NULL REFERENCES beneficiary (id) DEFERRABLE INITIALLY DEFERRED
);
CREATE INDEX beneficiary_legacy_map_beneficiary ON beneficiary_legacy_map (beneficiary_id);

CREATE TABLE payment_batch (
    id              BIGINT        PRIMARY KEY,
    batch_no        TEXT          NOT NULL,
    county_code     CHAR(6)       NOT NULL,
    program_code    VARCHAR(10)   NOT NULL REFERENCES program (code) DEFERRABLE INITIALLY DEFERRED,
    fund_year       SMALLINT      NOT NULL CHECK (fund_year BETWEEN 2000 AND 2030),
    period          CHAR(6)       CHECK (period ~ '^[0-9]{4}(0[1-9]|1[0-2])$'),
    allocation_id   BIGINT        REFERENCES allocation (id) DEFERRABLE INITIALLY DEFERRED,
    announce_from   DATE,
    announce_to     DATE,
    status          TEXT          NOT NULL CHECK (status IN ('entered', 'reviewed', 'announcing', 'announced', 'sent', 'returned', 'void')),
    declared_count  INT,
    declared_amount NUMERIC(14,2),
    entered_by      TEXT,
    reviewed_by     TEXT,
    legacy_pcid     BIGINT        UNIQUE
);
CREATE INDEX payment_batch_county ON payment_batch (county_code, program_code, fund_year);

CREATE TABLE payment (
    id               BIGINT        PRIMARY KEY,
    batch_id         BIGINT        NOT NULL REFERENCES payment_batch (id) DEFERRABLE INITIALLY DEFERRED,
    beneficiary_id   BIGINT        NOT NULL REFERENCES beneficiary (id) DEFERRABLE INITIALLY DEFERRED,
    county_code      CHAR(6)       NOT NULL,
    program_code     VARCHAR(10)   NOT NULL REFERENCES program (code) DEFERRABLE INITIALLY DEFERRED,
    fund_year        SMALLINT      NOT NULL CHECK (fund_year BETWEEN 2000 AND 2030),
    quantity         NUMERIC(14,2),
    amount           NUMERIC(14,2) NOT NULL CHECK (amount > 0),
    account_no       VARCHAR(30)   CHECK (account_no ~ '^[0-9]{8,30}$'),
    status           TEXT          NOT NULL CHECK (status IN ('pending', 'paid', 'failed', 'refunded', 'reissued')),
    paid_on          DATE,
    bank_serial      TEXT,
    failure_reason   TEXT,
    reissue_of       BIGINT        REFERENCES payment (id) DEFERRABLE INITIALLY DEFERRED,
    system_of_record TEXT          NOT NULL CHECK (system_of_record IN ('legacy', 'new')),
    legacy_mxid      BIGINT        UNIQUE
);
CREATE INDEX payment_batch_id ON payment (batch_id);
CREATE INDEX payment_beneficiary ON payment (beneficiary_id, program_code, fund_year);
CREATE INDEX payment_county ON payment (county_code, program_code, fund_year, status);
CREATE INDEX payment_account ON payment (account_no, fund_year) WHERE account_no IS NOT NULL;
CREATE INDEX payment_reissue_of ON payment (reissue_of) WHERE reissue_of IS NOT NULL;

CREATE TABLE platform_user (
    id          BIGINT      PRIMARY KEY,
    login       TEXT        NOT NULL UNIQUE,
    name        TEXT        NOT NULL,
    id_number   CHAR(18)    NOT NULL CHECK (id_number ~ '^[0-9]{17}[0-9X]$'),
    unit_name   TEXT        NOT NULL,
    region_code VARCHAR(12) NOT NULL,
    role        TEXT        NOT NULL CHECK (role IN ('finance', 'department', 'township', 'admin')),
    post        CHAR(2)     CHECK (post IN ('01', '02')),
    active      BOOLEAN     NOT NULL
);

-- Bookkeeping: one row per migration run, and the county steps each run has completed
-- (foreign keys are checked at commit, so a county can be replaced inside one transaction).
CREATE TABLE migration_run (
    run_id             TEXT        PRIMARY KEY,
    command            TEXT        NOT NULL,
    started_at         TIMESTAMPTZ NOT NULL,
    finished_at        TIMESTAMPTZ,
    status             TEXT        NOT NULL CHECK (status IN ('running', 'completed', 'failed')),
    ykt_version        TEXT        NOT NULL,
    source_fingerprint TEXT,
    stage_dir          TEXT,
    parameters         TEXT
);

CREATE TABLE migration_checkpoint (
    run_id       TEXT        NOT NULL REFERENCES migration_run (run_id) DEFERRABLE INITIALLY DEFERRED,
    county_code  CHAR(6)     NOT NULL,
    completed_at TIMESTAMPTZ NOT NULL,
    step         TEXT        NOT NULL CHECK (step IN ('people', 'money')),
    rows_loaded  BIGINT      NOT NULL,
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
    run_id       TEXT    NOT NULL,
    source_table TEXT    NOT NULL,
    source_key   TEXT    NOT NULL,
    county_code  CHAR(6) NOT NULL,
    reason_code  TEXT    NOT NULL CHECK (reason_code LIKE 'R\_%'),
    field        TEXT,
    raw_value    TEXT,
    detail       TEXT    NOT NULL,
    PRIMARY KEY (run_id, source_table, source_key)
);
CREATE INDEX migration_reject_county ON migration_reject (run_id, county_code, reason_code);

-- Every value changed on the way in: one row per field and code.
CREATE TABLE migration_correction (
    run_id          TEXT    NOT NULL,
    source_table    TEXT    NOT NULL,
    source_key      TEXT    NOT NULL,
    county_code     CHAR(6) NOT NULL,
    correction_code TEXT    NOT NULL CHECK (correction_code LIKE 'C\_%'),
    field           TEXT    NOT NULL,
    "before"        TEXT,
    "after"         TEXT,
    PRIMARY KEY (run_id, source_table, source_key, field, correction_code)
);
CREATE INDEX migration_correction_county ON migration_correction (run_id, county_code, correction_code);
