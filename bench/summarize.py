"""Summarizes bench/run.sh's timings: medians, rates and the issue's ratios, as markdown and JSON.

Reads $WORK/times/<case>-<round>.result ("exit wall rss_kib [machine_cpu_s own_cpu_s
mariadb_cpu_s]"); writes $OUT.md, $OUT.json and $LATEST (a copy of the markdown). Standard
library only.
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
        fields = f.read_text().split()
        status, wall, rss = fields[:3]
        run = {"exit": int(status), "wall_s": seconds(wall), "peak_rss_mib": int(rss) / 1024}
        if len(fields) >= 6:
            machine_s, own_s, mariadb_s = (float(x) for x in fields[3:6])
            run["cpu_s"] = {
                "machine": machine_s,
                "own": own_s,
                "mariadb": mariadb_s,
                "postgresql_and_rest": max(0.0, machine_s - own_s - mariadb_s),
            }
        runs.append(run)
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
    timed = [r["cpu_s"] for r in runs if "cpu_s" in r]
    if timed:
        results[case]["median_cpu_s"] = {
            k: round(statistics.median(t[k] for t in timed), 1) for k in timed[0]
        }
        results[case]["median_busy_percent"] = round(
            statistics.median(100 * r["cpu_s"]["machine"] / r["wall_s"] for r in runs if "cpu_s" in r and r["wall_s"])
        )


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
cpu = [(r["label"], r) for r in results.values() if "median_cpu_s" in r]
if cpu:
    md += [
        "Where the CPU went (medians, core-seconds; the machine has "
        f"{machine['cores']} cores): the command's own (GNU time, its children included), MariaDB's "
        "server, and the rest of the machine, which is PostgreSQL's server (and anything else "
        "that ran). A case whose machine time is near cores × wall had no core to spare.",
        "",
        f"| case | machine | busy (of {machine['cores'] * 100} %) | the command | MariaDB | PostgreSQL and the rest |",
        "|---|---|---|---|---|---|",
    ]
    for label, r in cpu:
        c = r["median_cpu_s"]
        md.append(
            f"| {label} | {c['machine']} | {r['median_busy_percent']} % | {c['own']} | {c['mariadb']} | {c['postgresql_and_rest']} |"
        )
    md.append("")
text = "\n".join(md)
out.with_suffix(".md").write_text(text)
Path(env["LATEST"]).write_text(text)
print(text)
