"""Summarizes bench/run.sh's timings: medians, rates and the issue's ratios, as markdown and JSON.

Reads $WORK/times/<case>-<round>.result ("exit wall rss_kib"); writes $OUT.md, $OUT.json and
$LATEST (a copy of the markdown). Standard library only.
"""

import json
import os
import platform
import statistics
import subprocess
from pathlib import Path

env = os.environ
work = Path(env["WORK"])
rows, bytes_, lines = int(env["ROWS"]), int(env["BYTES"]), int(env["LINES"])

CASES = [
    ("migrate-mariadb-postgres", "(a) ykt migrate MariaDB → PostgreSQL"),
    ("pgloader", "(b) pgloader raw copy, 7 tables (prefetch/batch rows 10000)"),
    ("floor-copy", "(c) floor: mariadb -B --quick \\| psql COPY, text, no indexes"),
    ("reconcile-mariadb-postgres", "(d) ykt reconcile on (a), all reports"),
    ("migrate-sqlite-sqlite", "(e) ykt migrate SQLite → SQLite"),
]


def seconds(wall: str) -> float:
    parts = [float(p) for p in wall.split(":")]
    total = 0.0
    for p in parts:
        total = total * 60 + p
    return total


results = {}
for case, label in CASES:
    runs = []
    for f in sorted(work.glob(f"times/{case}-*.result")):
        status, wall, rss = f.read_text().split()
        runs.append({"exit": int(status), "wall_s": seconds(wall), "peak_rss_mib": int(rss) / 1024})
    if not runs:
        continue
    wall = statistics.median(r["wall_s"] for r in runs)
    rss = max(r["peak_rss_mib"] for r in runs)
    results[case] = {
        "label": label,
        "runs": runs,
        "median_wall_s": round(wall, 2),
        "peak_rss_mib": round(rss, 1),
        "rows_per_s": round(rows / wall) if wall else None,
        "mb_per_s": round(bytes_ / 1048576 / wall, 1) if wall else None,
    }


def ratio(a: str, b: str):
    if a in results and b in results and results[b]["median_wall_s"]:
        return round(results[a]["median_wall_s"] / results[b]["median_wall_s"], 2)
    return None


ratios = {
    "ykt_migrate_over_pgloader": ratio("migrate-mariadb-postgres", "pgloader"),
    "ykt_migrate_over_floor": ratio("migrate-mariadb-postgres", "floor-copy"),
    "reconcile_over_migrate": ratio("reconcile-mariadb-postgres", "migrate-mariadb-postgres"),
}


def sh(cmd: str) -> str:
    try:
        return subprocess.run(cmd, shell=True, capture_output=True, text=True).stdout.strip()
    except OSError:
        return ""


machine = {
    "cpu": sh("grep -m1 'model name' /proc/cpuinfo | cut -d: -f2").strip(),
    "cores": os.cpu_count(),
    "memory_gib": round(int(sh("awk '/MemTotal/ {print $2}' /proc/meminfo") or 0) / 1048576, 1),
    "os": platform.platform(),
    "postgresql": sh("psql -h 127.0.0.1 -U postgres -Atc 'SHOW server_version'"),
    "mariadb": sh("mysql -h 127.0.0.1 -u root -N -e 'SELECT VERSION()'"),
    "ykt": env.get("YKT_VERSION", ""),
    "pgloader": env.get("PGLOADER_VERSION", ""),
}
summary = {
    "preset": env["PRESET"],
    "seed": int(env["SEED"]),
    "rounds": int(env["ROUNDS"]),
    "legacy_rows": rows,
    "payment_lines": lines,
    "legacy_mb": round(bytes_ / 1048576, 1),
    "machine": machine,
    "cases": results,
    "ratios": ratios,
}
out = Path(env["OUT"])
out.with_suffix(".json").write_text(json.dumps(summary, indent=2, ensure_ascii=False) + "\n")

md = [
    f"# ykt benchmark: {env['PRESET']} preset",
    "",
    f"{rows:,} legacy rows ({lines:,} payment lines, {bytes_ / 1048576:.0f} MB in MariaDB), seed {env['SEED']}, "
    f"median of {env['ROUNDS']} rounds, every case from an empty target. Machine: {machine['cpu']}, "
    f"{machine['cores']} cores, {machine['memory_gib']} GiB; PostgreSQL {machine['postgresql']}, "
    f"MariaDB {machine['mariadb']}; {machine['ykt']}; {machine['pgloader']}.",
    "",
    "| case | median wall | rows/s | MB/s | peak RSS |",
    "|---|---|---|---|---|",
]
for case, r in results.items():
    md.append(
        f"| {r['label']} | {r['median_wall_s']:.2f} s | {r['rows_per_s']:,} | {r['mb_per_s']} | {r['peak_rss_mib']:.0f} MiB |"
    )
md += [
    "",
    "| ratio | value | goal |",
    "|---|---|---|",
    f"| ykt migrate / pgloader | {ratios['ykt_migrate_over_pgloader']} | ≤ 1.0 |",
    f"| ykt migrate / floor | {ratios['ykt_migrate_over_floor']} | ≤ 2.0 |",
    f"| ykt reconcile / ykt migrate | {ratios['reconcile_over_migrate']} | ≤ 0.5 |",
    "",
    "Every reconciliation balanced (the script fails otherwise).",
    "",
]
text = "\n".join(md)
out.with_suffix(".md").write_text(text)
Path(env["LATEST"]).write_text(text)
print(text)
