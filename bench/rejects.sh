#!/usr/bin/env bash
# A county whose every payment line is rejected: the report step's memory when one county's
# listing has a million rows (issue 13's bound on memory, for data that is not the simulator's
# usual picture).
#
#   bench/rejects.sh                          # county preset, seed 7, target PostgreSQL
#   TARGET=sqlite bench/rejects.sh            # the embedded default as the target
#   YKT_BIN=/tmp/ykt-before bench/rejects.sh  # measure another build
#   BENCH_STAMP=2026-12-08 bench/rejects.sh   # name the results (default: the date)
#
# The county preset is generated into SQLite and its payment batches (T_FFPC) deleted, so that
# every payment line is rejected as R_ORPHAN_BATCH (about a million in county 610802). It is
# migrated, then reconciled ROUNDS times (default 2) each way, alternating: as ykt runs (a
# county's listing past 100,000 rows sorted on disk in runs) and with the listings held whole
# (YKT_REPORT_HELD_ROWS=100000000). Peak RSS and wall time come from GNU time; the two ways'
# CSV files and summaries must be byte for byte the same, and every county balanced, else the
# script fails. Results: bench/results/rejects-<stamp>.{md,json}.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SEED=${SEED:-7}
ROUNDS=${ROUNDS:-2}
TARGET_KIND=${TARGET:-postgres}
WORK=${YKT_BENCH_DIR:-/tmp/ykt-bench-rejects}
STAMP=${BENCH_STAMP:-$(date +%F)}
mkdir -p "$WORK" "$ROOT/bench/results"

if [ -n "${YKT_BIN:-}" ]; then
  BIN=$YKT_BIN
else
  echo "bench: building ykt (release)"
  cargo build --release --quiet
  BIN=${CARGO_TARGET_DIR:-$ROOT/target}/release/ykt
fi

LEGACY=sqlite://$WORK/legacy.sqlite
case $TARGET_KIND in
  postgres)
    TARGET_URL=postgres://postgres@127.0.0.1:5432/ykt_bench_rejects
    psql -h 127.0.0.1 -U postgres -q -v ON_ERROR_STOP=1 \
      -c "DROP DATABASE IF EXISTS ykt_bench_rejects" -c "CREATE DATABASE ykt_bench_rejects" 2>/dev/null
    ;;
  sqlite)
    TARGET_URL=sqlite://$WORK/target.sqlite
    rm -f "$WORK"/target.sqlite*
    ;;
  *) echo "bench: TARGET is postgres or sqlite, not $TARGET_KIND" >&2; exit 2 ;;
esac

echo "bench: generating the county preset (seed $SEED) and deleting its batches"
rm -rf "$WORK/legacy.sqlite" "$WORK/stage"
"$BIN" generate --preset county --seed "$SEED" --legacy "$LEGACY" > "$WORK/generate.log" 2>&1
python3 - "$WORK/legacy.sqlite" <<'EOF'
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
db.execute("DELETE FROM T_FFPC")
db.commit()
EOF
echo "bench: migrating"
"$BIN" migrate --legacy "$LEGACY" --stage "$WORK/stage" --target "$TARGET_URL" > "$WORK/migrate.log" 2>&1

run() { # label, out folder, env...
  local label=$1 out=$2; shift 2
  rm -rf "$out"
  env "$@" YKT_LOG=info /usr/bin/time -v "$BIN" reconcile --legacy "$LEGACY" --stage "$WORK/stage" \
    --target "$TARGET_URL" --out "$out" > "$WORK/$label.out" 2> "$WORK/$label.err"
  local wall rss
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, t, ":"); s = 0; for (i = 1; i <= n; i++) s = s * 60 + t[i]; print s }' "$WORK/$label.err")
  rss=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$label.err")
  if grep -q '"balanced": false' "$out"/counties/*/summary.json; then
    echo "bench: a county is not balanced ($label)" >&2
    exit 1
  fi
  echo "$label $wall $rss" >> "$WORK/results.txt"
  echo "bench: $label: ${wall} s, ${rss} MiB"
}

rm -f "$WORK/results.txt"
for round in $(seq 1 "$ROUNDS"); do
  run "on-disk-$round" "$WORK/out-on-disk"
  run "held-$round" "$WORK/out-held" YKT_REPORT_HELD_ROWS=100000000
  (cd "$WORK/out-on-disk" && find . -name '*.csv' -o -name summary.json) | while read -r f; do
    cmp -s "$WORK/out-on-disk/$f" "$WORK/out-held/$f" || { echo "bench: $f differs" >&2; exit 1; }
  done
done

rejects=$(python3 -c "
import json, glob
print(max(sum(json.load(open(p))['rejects'].values()) for p in glob.glob('$WORK/out-on-disk/counties/*/summary.json')))")
python3 - "$WORK/results.txt" "$ROOT/bench/results/rejects-$STAMP" "$TARGET_KIND" "$rejects" <<'EOF'
import json, statistics, sys, platform, os
rows = [l.split() for l in open(sys.argv[1])]
out, target, rejects = sys.argv[2], sys.argv[3], int(sys.argv[4])
cases = {}
for label, wall, rss in rows:
    cases.setdefault(label.rsplit('-', 1)[0], []).append((float(wall), int(rss)))
cpu = next((l.split(':', 1)[1].strip() for l in open('/proc/cpuinfo') if l.startswith('model name')), '?')
machine = f"{os.cpu_count()} cores ({cpu}), {round(os.sysconf('SC_PAGE_SIZE') * os.sysconf('SC_PHYS_PAGES') / 2**30)} GiB, {platform.platform()}"
result = {
    "target": target,
    "largest_county_rejects": rejects,
    "machine": machine,
    "cases": {k: {"walls_s": [w for w, _ in v], "peaks_mib": [r for _, r in v],
                  "median_wall_s": statistics.median(w for w, _ in v),
                  "max_peak_mib": max(r for _, r in v)} for k, v in cases.items()},
}
json.dump(result, open(out + ".json", "w"), indent=2)
with open(out + ".md", "w") as f:
    f.write(f"# A county with {rejects:,} rejects: `ykt reconcile` (target {target})\n\n")
    f.write(f"Machine: {machine}\n\n")
    f.write("| listings | walls (s) | peak RSS (MiB) |\n|---|---|---|\n")
    names = {"on-disk": "sorted on disk past 100,000 rows (as ykt runs)",
             "held": "held whole (`YKT_REPORT_HELD_ROWS=100000000`)"}
    for k, v in cases.items():
        f.write(f"| {names.get(k, k)} | {', '.join(f'{w:.2f}' for w, _ in v)} | {', '.join(str(r) for _, r in v)} |\n")
    f.write("\nThe two ways' CSV files and summaries were byte for byte the same; every county balanced.\n")
print(open(out + ".md").read())
EOF
