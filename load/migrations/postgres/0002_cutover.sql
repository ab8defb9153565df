-- Cutover bookkeeping (cutover-policy.md). Times are RFC 3339 text, as ykt ran them (--at).

-- Every guard installed or removed: who, when, which phase, why.
CREATE TABLE cutover_guard_event (
    id        BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at        TEXT NOT NULL,
    action    TEXT NOT NULL CHECK (action IN ('install', 'remove')),
    system    TEXT NOT NULL CHECK (system IN ('legacy', 'target')),
    phase     TEXT NOT NULL,
    database  TEXT NOT NULL,
    by_whom   TEXT NOT NULL,
    reason    TEXT NOT NULL
);

-- The delta sync's position per legacy table: the last (GXSJ, key) it read.
CREATE TABLE cutover_sync_cursor (
    table_name TEXT PRIMARY KEY,
    gxsj       TEXT NOT NULL,
    legacy_key BIGINT NOT NULL,
    updated_at TEXT NOT NULL
);

-- Each increment of the delta sync, and the legacy rows it brought over.
CREATE TABLE cutover_sync_increment (
    id          BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at          TEXT NOT NULL,
    run_id      TEXT NOT NULL,
    rows_read   BIGINT NOT NULL,
    rows_upserted BIGINT NOT NULL
);
CREATE TABLE cutover_sync_change (
    increment_id BIGINT NOT NULL,
    source_table TEXT NOT NULL,
    source_key   TEXT NOT NULL,
    county_code  TEXT NOT NULL,
    PRIMARY KEY (increment_id, source_table, source_key)
);

-- Lines carried over at the freeze: owned by legacy until then, by the new platform since.
CREATE TABLE cutover_carry_over (
    legacy_mxid  BIGINT PRIMARY KEY,
    county_code  TEXT NOT NULL,
    program_code TEXT NOT NULL,
    fund_year    INTEGER NOT NULL,
    amount       TEXT NOT NULL,
    status       TEXT NOT NULL,
    carried_at   TEXT NOT NULL
);

-- The freeze's steps, so an interrupted freeze resumes where it stopped.
CREATE TABLE cutover_freeze_step (
    step    TEXT PRIMARY KEY,
    done_at TEXT NOT NULL
);

-- Each county report written, and the checksum of its summary.json.
CREATE TABLE cutover_county_report (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at             TEXT NOT NULL,
    county_code    TEXT NOT NULL,
    run_id         TEXT NOT NULL,
    balanced       INTEGER NOT NULL,
    summary_sha256 TEXT NOT NULL,
    out_dir        TEXT NOT NULL
);
CREATE INDEX cutover_county_report_county ON cutover_county_report (county_code, id);

-- County sign-offs (核对无误), bound to the exact report they signed.
CREATE TABLE cutover_signoff (
    id             BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    county_code    TEXT NOT NULL,
    signed_by      TEXT NOT NULL,
    signed_at      TEXT NOT NULL,
    summary_sha256 TEXT NOT NULL,
    run_id         TEXT NOT NULL
);
CREATE INDEX cutover_signoff_county ON cutover_signoff (county_code, id);
