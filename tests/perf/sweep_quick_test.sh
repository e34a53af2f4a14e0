#!/usr/bin/env bash
# Runs `perf/sweep --quick` into a temporary directory and checks what it
# writes: every output file present and non-empty, a CSV row for every point of
# every quick configuration, each with a status, and at least one measured point.
#   usage: sweep_quick_test.sh RINGWIRE_BINARY SOURCE_DIR
set -euo pipefail
bin=$1
src=$2
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
# Ports away from the seeds' 44444/45000/9002-9005, so that a sweep running
# beside the test does not collide with it.
"$src/perf/sweep" --quick --binary "$bin" --out "$out" \
  --direct-port 21000 --lb-port 21444 --backend-port 21002
for f in results.csv tables.md REPORT.md meta.json architecture.dot architecture.svg \
  requests_per_second.png requests_per_second.svg p99_latency.png p99_latency.svg \
  wrk_threads.png wrk_threads.svg; do
  [ -s "$out/$f" ] || { echo "FAIL: $f missing or empty"; exit 1; }
done
/usr/bin/python3 - "$out/results.csv" <<'PY'
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
expected = ["uring", "reactor", "threads", "lb+uring", "nginx", "haproxy+nginx"]
per = {c: [r for r in rows if r["configuration"] == c] for c in expected}
bad = [c for c, rs in per.items() if len(rs) != 4]
if bad:
    sys.exit(f"FAIL: configurations without their 4 rows: {bad}")
if any(r["status"] not in ("ok", "failed", "unavailable") or (r["status"] != "ok" and not r["reason"]) for r in rows):
    sys.exit("FAIL: a row without a status, or a failed/unavailable row without a reason")
if not any(r["status"] == "ok" and float(r["requests_per_second"] or 0) > 0 for r in rows):
    sys.exit("FAIL: no point was measured")
print(f"sweep quick: {len(rows)} rows, " + ", ".join(f"{c}: {per[c][0]['status']}" for c in expected))
PY
