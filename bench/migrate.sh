#!/usr/bin/env bash
# Measures `ykt migrate`, then `ykt reconcile` with its reports, on the county preset (about
# 1 000 000 payment lines): MariaDB → PostgreSQL, and SQLite → SQLite.
# Prints wall-clock time and peak RSS of each run (GNU time), and ykt's own per-stage times.
# A benchmark, not a test: it asserts nothing and never fails on time.
#
#   bench/migrate.sh            # county preset
#   PRESET=demo bench/migrate.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PRESET=${PRESET:-county}
SEED=${SEED:-7}
WORK=${YKT_BENCH_DIR:-/tmp/ykt-bench}
MYSQL_DB=ykt_bench_legacy
PG_DB=ykt_bench_target

cargo build --release --quiet
BIN=${CARGO_TARGET_DIR:-$PWD/target}/release/ykt
rm -rf "$WORK" && mkdir -p "$WORK"
mysql -h 127.0.0.1 -u root -e "DROP DATABASE IF EXISTS $MYSQL_DB"
psql -h 127.0.0.1 -U postgres -qc "DROP DATABASE IF EXISTS $PG_DB"

measure() { # label, command...
  local label=$1; shift
  /usr/bin/time -v "$@" >"$WORK/$label.out" 2>"$WORK/$label.err" || { cat "$WORK/$label.err"; exit 1; }
  local wall rss
  wall=$(grep 'Elapsed (wall clock)' "$WORK/$label.err" | awk '{print $NF}')
  rss=$(grep 'Maximum resident set size' "$WORK/$label.err" | awk '{print $NF}')
  printf '%-28s wall %-9s peak RSS %6d MiB   %s\n' "$label" "$wall" $((rss / 1024)) "$(grep '^time:' "$WORK/$label.out" || true)"
}

echo "preset $PRESET, seed $SEED, $(nproc) cores"
measure generate-mariadb "$BIN" generate --preset "$PRESET" --seed "$SEED" --legacy "mysql://root@127.0.0.1:3306/$MYSQL_DB" --truth "$WORK/truth-mariadb.json"
measure generate-sqlite "$BIN" generate --preset "$PRESET" --seed "$SEED" --legacy "sqlite://$WORK/legacy.sqlite"
grep T_FFMX "$WORK/generate-sqlite.out"
measure migrate-mariadb-to-postgres "$BIN" migrate --legacy "mysql://root@127.0.0.1:3306/$MYSQL_DB" --stage "$WORK/stage-pg" --target "postgres://postgres@127.0.0.1:5432/$PG_DB"
measure migrate-sqlite-to-sqlite "$BIN" migrate --legacy "sqlite://$WORK/legacy.sqlite" --stage "$WORK/stage-sqlite" --target "sqlite://$WORK/platform.sqlite"
cat "$WORK/migrate-sqlite-to-sqlite.out"
measure reconcile-mariadb-postgres "$BIN" reconcile --legacy "mysql://root@127.0.0.1:3306/$MYSQL_DB" --stage "$WORK/stage-pg" --target "postgres://postgres@127.0.0.1:5432/$PG_DB" --out "$WORK/out-pg"
measure reconcile-sqlite-sqlite "$BIN" reconcile --legacy "sqlite://$WORK/legacy.sqlite" --stage "$WORK/stage-sqlite" --target "sqlite://$WORK/platform.sqlite" --out "$WORK/out-sqlite"
du -sh "$WORK/out-sqlite" | awk '{print "reports: " $1}'
