#!/usr/bin/env bash
# Runs `perf/sweep --quick` into a temporary directory and checks what it
# writes: every output file present and non-empty, a CSV row for every point of
# every quick configuration, each with a status and its round, at least one
# measured point, the 20x target tables, the seed ratio on the wrk -t1 -c C rows,
# the machine's wake latency (perf/wake_latency) and the c=1 ceiling from it.
# Then redraws a copy as an old results.csv (no round column) whose meta.json
# has a wake-latency probe, and checks the report states the c=1 ceiling.
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
if "round" not in rows[0] or any(r["round"] != "1" for r in rows):
    sys.exit("FAIL: results.csv has no round column, or a quick run's row is not round 1")
print(f"sweep quick: {len(rows)} rows, " + ", ".join(f"{c}: {per[c][0]['status']}" for c in expected))
PY
for f in tables.md REPORT.md; do
  grep -q '^## 20× target' "$out/$f" || { echo "FAIL: $f has no 20× target section"; exit 1; }
  for cfg in uring reactor lb+uring; do
    grep -q "^\*\*$cfg\*\*" "$out/$f" || { echo "FAIL: $f has no 20× target table for $cfg"; exit 1; }
  done
  grep -q '| C | Seed req/s at C | 20× seed |' "$out/$f" || { echo "FAIL: $f: 20× target table header"; exit 1; }
done
grep -q '(ab, same c)' "$out/tables.md" || { echo "FAIL: wrk -t1 -c C rows carry no seed figure"; exit 1; }
# The sweep runs perf/wake_latency (built beside the binary) and the report
# states the c=1 ceiling it implies; without the probe, it states none.
if [ -x "$(dirname "$bin")/perf/wake_latency" ]; then
  grep -q '"blocking_rt_us"' "$out/meta.json" || { echo "FAIL: the probe is built but meta.json has no wake_latency"; exit 1; }
  grep -q 'c=1 ceiling' "$out/REPORT.md" || { echo "FAIL: a wake-latency probe but no c=1 ceiling"; exit 1; }
else
  grep -q 'c=1 ceiling' "$out/REPORT.md" && { echo "FAIL: a c=1 ceiling without a wake-latency probe"; exit 1; }
fi

# Redraw: an old results.csv (written before --rounds: no round column), a
# meta.json with the wake-latency probe's entry.
old=$(mktemp -d)
trap 'rm -rf "$out" "$old"' EXIT
cp "$out/results.csv" "$out/meta.json" "$old/"
/usr/bin/python3 - "$old" <<'PY'
import csv, json, os, sys
d = sys.argv[1]
rows = list(csv.DictReader(open(os.path.join(d, "results.csv"))))
cols = [c for c in rows[0] if c != "round"]
with open(os.path.join(d, "results.csv"), "w", newline="") as fh:
    w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
    w.writeheader()
    w.writerows(rows)
meta = json.load(open(os.path.join(d, "meta.json")))
meta["wake_latency"] = {"blocking_rt_us": 50.0, "server_spin_rt_us": 20.0, "same_core_rt_us": 10.0}
json.dump(meta, open(os.path.join(d, "meta.json"), "w"))
PY
"$src/perf/bench_report.py" "$old"
grep -q '^## 20× target' "$old/REPORT.md" || { echo "FAIL: redraw of an old results.csv: no 20× target section"; exit 1; }
grep -q "about 1e6 / 50.0 µs = \*\*20,000 req/s\*\*" "$old/REPORT.md" \
  || { echo "FAIL: redraw with a wake-latency probe: no c=1 ceiling in REPORT.md"; exit 1; }
echo "sweep quick: outputs, round column, 20x tables, old-csv redraw and c=1 ceiling ok"
