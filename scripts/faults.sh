#!/usr/bin/env bash
# Every kill point and server fault (CI runs a subset): ykt killed during migrate, sync and
# freeze at each deterministic point and at random moments, then continued; the database
# servers restarted mid-run. Restarts the local PostgreSQL and MariaDB: run it on a machine
# where nothing else uses them.
set -euo pipefail
cd "$(dirname "$0")/.."
YKT_FAULTS=all cargo test --features failpoints --test faults -- --test-threads=1 --nocapture
