#!/usr/bin/python3
"""Turns a sweep's rows into results.csv, tables.md, charts (PNG and SVG),
architecture.svg (Graphviz) and REPORT.md. perf/sweep calls write_all(); run
it alone as `perf/bench_report.py DIR` to redraw DIR from its results.csv and
meta.json without measuring again."""
import csv
import json
import math
import os
import shutil
import statistics
import subprocess
import sys

COLUMNS = [
    "round", "configuration", "engine", "topology", "grid", "tool", "concurrency", "threads", "duration_s", "requests",
    "time_taken_s", "complete_requests", "failed_requests", "non2xx", "err_connect", "err_read", "err_write",
    "err_timeout", "total_transferred_bytes", "requests_per_second", "time_per_request_ms",
    "time_per_request_all_ms", "transfer_rate_kbps", "latency_avg_ms", "latency_p50_ms", "latency_p99_ms",
    "latency_max_ms", "server_cpu_s", "server_cpu_us_per_req", "server_pids", "loadavg_1m", "status", "reason", "command",
]
# Which seed table each configuration is set beside: (server kind in the seeds, behind a balancer).
SEED_OF = {"uring": ("async", False), "reactor": ("async", False), "threads": ("thread", False),
           "prefork": ("pool", False), "lb+uring": ("async", True), "lb+reactor": ("async", True),
           "lb+threads": ("thread", True), "lb+prefork": ("pool", True)}
GRID_TITLE = {
    "ab": "ab -n 1000 -c C -r -k -s 99999 (the seeds' ab grid)",
    "wrk-threads": "wrk -c 1000 -t T -d {wt}s (seed 004's grid; -t is client threads, not concurrency)",
    "wrk-conns": "wrk -t1 -c C -d {wc}s (a longer run per concurrency: 1000 requests take only a few ms here)",
}
WRK_CONNS_SEED_NOTE = (
    "The seeds ran no `wrk -t1 -c C`: the seed figure on these rows is the seeds' **ab** figure at the same "
    "concurrency (the same one as the ab table above), so the ratio sets this longer run of the server beside "
    "what the seeds measured at that concurrency.")
NL = "\\n"  # a line break inside a Graphviz label
HERE = os.path.dirname(os.path.abspath(__file__))


def num(v):
    if v in (None, ""):
        return None
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def f(v, digits=2):
    x = num(v)
    if x is None:
        return "—"
    if digits == 0 or (x == int(x) and abs(x) >= 1000):
        return f"{x:.0f}"
    return f"{x:.{digits}f}"


# ---------------------------------------------------------------- seeds

class Seeds:
    def __init__(self, path):
        with open(path) as fh:
            self.data = json.load(fh)

    def ab(self, config, c):
        """The seed's ab figure at concurrency c: seed 001 first (the wider grid, and the
        only one with the balancer), seed 000 where 001 has no such point (c = 10)."""
        if config not in SEED_OF:
            return None, None
        kind, lb = SEED_OF[config]
        for seed in ("001", "000"):
            for t in self.data["ab"]:
                if t["seed"] == seed and t["kind"] == kind and t["lb"] == lb:
                    for p in t["points"]:
                        if p["c"] == c:
                            return p, f"{seed}: {t['table']}"
        return None, None

    def wrk_threads(self, config, t):
        if config not in SEED_OF:
            return None, None
        kind, lb = SEED_OF[config]
        for tab in self.data["wrk_threads"]:
            if tab["kind"] == kind and tab["lb"] == lb:
                for p in tab["points"]:
                    if p["t"] == t:
                        return p, f"004: {tab['table']}"
        return None, None


# ---------------------------------------------------------------- files

def write_csv(out, rows):
    with open(os.path.join(out, "results.csv"), "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=COLUMNS, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow({k: ("" if r.get(k) is None else r.get(k)) for k in COLUMNS})


def read_csv(out):
    """The rows of DIR/results.csv; a file written before --rounds existed has no round column:
    each of its rows is round 1."""
    with open(os.path.join(out, "results.csv"), newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        if not r.get("round"):
            r["round"] = "1"
    return rows


# Columns that are numbers: per point, the median over the rounds that measured it.
NUMERIC = COLUMNS[COLUMNS.index("time_taken_s"):COLUMNS.index("loadavg_1m") + 1]


def point_key(r):
    return (r["configuration"], r["grid"], str(r["concurrency"]), str(r.get("threads") or ""))


def aggregate(rows):
    """One row per point (configuration, grid, concurrency, threads) from one row per point per
    round: every numeric column is the median over the rounds whose point is ok; `_rounds` keeps the
    rounds' own rows (for ranges and status); status is ok if any round measured the point (the
    status cell says which rounds failed), else failed or unavailable. Order: first appearance, which
    is round 1's order, the sweep's configuration order."""
    groups, order = {}, []
    for r in sorted(rows, key=lambda r: int(num(r.get("round")) or 1)):  # stable: keeps run order
        k = point_key(r)
        if k not in groups:
            groups[k] = []
            order.append(k)
        groups[k].append(r)
    out = []
    for k in order:
        rs = groups[k]
        oks = [r for r in rs if ok(r)]
        a = dict(oks[0] if oks else rs[0])
        a["_rounds"] = rs
        if oks and len(rs) > 1:
            for col in NUMERIC:
                vals = [num(r.get(col)) for r in oks if num(r.get(col)) is not None]
                a[col] = statistics.median(vals) if vals else ""
            a["status"] = "ok"
            a["reason"] = ""
        elif not oks:
            a["status"] = "failed" if any(r.get("status") == "failed" for r in rs) else "unavailable"
        out.append(a)
    return out


def rounds_of(r):
    return r.get("_rounds") or [r]


def ok_rounds(r, key="requests_per_second"):
    """key's value in every round that measured the point."""
    vals = [num(x.get(key)) for x in rounds_of(r) if ok(x)]
    return [v for v in vals if v is not None]


def spread(r, key):
    """(min, max) of key over the point's ok rounds, or None when fewer than two rounds measured it."""
    vals = ok_rounds(r, key)
    return (min(vals), max(vals)) if len(vals) > 1 else None


def fr(r, key, digits=2):
    """The point's value (the median over rounds) and, with two or more rounds, [min–max]."""
    s = f(r.get(key), digits)
    m = spread(r, key)
    if m:
        d = 0 if abs(m[1]) >= 100 else digits
        s += f" [{f(m[0], d)}–{f(m[1], d)}]"
    return s


def ratio_cell(r, seed_rps):
    """ours ÷ the seed's requests/s: the median's ratio, and with two or more rounds the range."""
    if not seed_rps or not ok(r):
        return "—"
    s = f"{num(r['requests_per_second']) / seed_rps:.1f}×"
    m = spread(r, "requests_per_second")
    if m:
        s += f" [{m[0] / seed_rps:.1f}–{m[1] / seed_rps:.1f}]"
    return s


def configs_in(rows):
    seen = []
    for r in rows:
        if r["configuration"] not in seen:
            seen.append(r["configuration"])
    return seen


def pick(rows, config, grid):
    return [r for r in rows if r["configuration"] == config and r["grid"] == grid]


def ok(r):
    return r.get("status") == "ok" and num(r.get("requests_per_second")) is not None


def status_cell(r):
    rs = rounds_of(r)
    if len(rs) == 1:
        x = rs[0]
        if x.get("status") == "ok":
            return "ok" + (f" ({x['reason']})" if x.get("reason") else "")
        return f"**{x.get('status')}**: {x.get('reason', '')}".replace("|", "/")
    # Several rounds: how many measured the point, and each other round's status and reason.
    n = len(rs)
    by = {}  # (status, reason) -> rounds
    for x in rs:
        st = x.get("status") or "?"
        if st == "ok" and not x.get("reason"):
            continue
        by.setdefault((st, x.get("reason") or ""), []).append(str(x.get("round")))
    n_ok = sum(1 for x in rs if x.get("status") == "ok")
    counts = [f"ok {n_ok}/{n}"] if n_ok else []
    for st in ("failed", "unavailable"):
        k = sum(1 for x in rs if x.get("status") == st)
        if k:
            counts.append(f"**{st}** {k}" + ("" if n_ok else f"/{n}"))
    notes = [f"round{'s' if len(rds) > 1 else ''} {', '.join(rds)}: {reason or st}"
             for (st, reason), rds in by.items()]
    return (", ".join(counts) + (f" ({'; '.join(notes)})" if notes else "")).replace("|", "/")


def headline(rows, meta):
    """One line per configuration: the numbers most worth reading first."""
    lines = ["| Configuration | Status | ab peak req/s (at c) | wrk -t1 -c50 req/s | wrk -t1 -c50 p99 (ms) "
             "| server CPU µs/req (wrk -c50) | ÷ peer req/s (wrk -c50; peer: nginx, or haproxy+nginx for balancers) | wrk -c1000 -t10 req/s |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for cfg in configs_in(rows):
        topo = meta.get("topologies", {}).get(cfg, {})
        ab = [r for r in pick(rows, cfg, "ab") if ok(r)]
        peak = max(ab, key=lambda r: num(r["requests_per_second"]), default=None)
        c50 = next((r for r in pick(rows, cfg, "wrk-conns") if str(r["concurrency"]) == "50" and ok(r)), None)
        t10 = next((r for r in pick(rows, cfg, "wrk-threads") if str(r["threads"]) == "10" and ok(r)), None)
        peer = "haproxy+nginx" if cfg.startswith(("lb+", "haproxy")) else "nginx"
        n50 = next((r for r in pick(rows, peer, "wrk-conns") if str(r["concurrency"]) == "50"), None)
        ratio = "—"
        if c50 and n50 and ok(n50):
            ratio = f"{num(c50['requests_per_second']) / num(n50['requests_per_second']):.2f}×"
        st = topo.get("status", "?")
        if st != "ok":
            st = f"unavailable: {topo.get('reason', '')}".replace("|", "/")
        lines.append(f"| {cfg} | {st} | " + (f"{fr(peak, 'requests_per_second', 0)} (c={peak['concurrency']})"
                                              if peak else "—")
                     + f" | {fr(c50, 'requests_per_second', 0) if c50 else '—'} | "
                     f"{f(c50['latency_p99_ms']) if c50 else '—'} | {fr(c50, 'server_cpu_us_per_req') if c50 else '—'} | "
                     f"{ratio} | {fr(t10, 'requests_per_second', 0) if t10 else '—'} |")
    return "\n".join(lines)


def rounds_sentence(meta, raw):
    n = n_rounds(meta, raw)
    if n <= 1:
        return "One round: every point ran once."
    orders = meta.get("round_orders") or []
    return (f"**{n} rounds**, the configuration order rotated each round"
            + (" (" + "; ".join(f"round {i}: {', '.join(o)}" for i, o in enumerate(orders, 1)) + ")" if orders else "")
            + ". Every number is the **median over the rounds** that measured the point; requests/s, server CPU "
            "µs/req, failed requests and the seed ratio also show the range **[min–max]** over those rounds. "
            "The status cell says in which rounds a point failed; results.csv has every round's row.")


def n_rounds(meta, raw):
    return int(meta.get("rounds") or max((int(num(r.get("round")) or 1) for r in raw), default=1))


def write_tables(out, rows, meta, seeds, raw=None):
    raw = raw if raw is not None else rows
    wt, wc = meta.get("wrk_threads_duration"), meta.get("wrk_conns_duration")
    md = ["# Sweep tables", "",
          f"Run {meta.get('started', '?')}, {'quick grid' if meta.get('quick') else 'full grid'}. "
          "Columns follow the seeds' ab tables (SEEDS.md, \"Exact columns to regenerate\"); "
          "\"Time per request\" is ab's first line (mean per request, as seeds 000/002/003 print it; "
          "seed 001 prints the second line, which is time taken ÷ 1000: compare requests/s, not this column). "
          "Server CPU is utime+stime of every server process of the configuration over the point. "
          "The seed figure is the seeds' number at the same point (perf/seeds.json says where each is from); "
          "ratio = ours ÷ seed's requests/s. Failed and unavailable points are listed, never dropped.", "",
          rounds_sentence(meta, raw), "",
          "## Headline", "", headline(rows, meta), "",
          "## 20× target", "", target_section(rows, meta, seeds), ""]
    for cfg in configs_in(rows):
        topo = meta.get("topologies", {}).get(cfg, {})
        md += [f"## {cfg}", "", f"Topology: {topo.get('topology') or 'unavailable: ' + topo.get('reason', '?')}", ""]
        ab = pick(rows, cfg, "ab")
        if ab:
            md += [f"### {GRID_TITLE['ab']}", "",
                   "| Concurrency level | Time taken for test (s) | Complete requests | Failed requests "
                   "| Total transferred (bytes) | Requests per second | Time per request (ms) "
                   "| Transfer rate (KB/s) | p50 (ms) | p99 (ms) | Server CPU (µs/req) | Status "
                   "| Seed req/s | Seed source | Ratio |",
                   "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|"]
            for r in ab:
                c = int(r["concurrency"])
                sp, src = seeds.ab(cfg, c)
                ratio = ratio_cell(r, sp["rps"] if sp else None)
                md.append(f"| {c} | {f(r.get('time_taken_s'), 3)} | {f(r.get('complete_requests'), 0)} "
                          f"| {fr(r, 'failed_requests', 0)} | {f(r.get('total_transferred_bytes'), 0)} "
                          f"| {fr(r, 'requests_per_second')} | {f(r.get('time_per_request_ms'), 3)} "
                          f"| {f(r.get('transfer_rate_kbps'))} | {f(r.get('latency_p50_ms'), 0)} "
                          f"| {f(r.get('latency_p99_ms'), 0)} | {fr(r, 'server_cpu_us_per_req')} "
                          f"| {status_cell(r)} | {f(sp['rps']) if sp else '—'} | {src or '—'} | {ratio} |")
            md.append("")
        for grid in ("wrk-threads", "wrk-conns"):
            pts = pick(rows, cfg, grid)
            if not pts:
                continue
            label = "Threads (-t)" if grid == "wrk-threads" else "Concurrency (-c)"
            md += [f"### {GRID_TITLE[grid].format(wt=wt, wc=wc)}", "",
                   f"| {label} | Time taken for test (s) | Complete requests | Failed requests (socket errors + non-2xx) "
                   "| Total transferred (bytes) | Requests per second | Time per request (ms, latency avg) "
                   "| Transfer rate (KB/s) | p50 (ms) | p99 (ms) | Server CPU (µs/req) | Status "
                   "| Seed req/s | Seed source | Ratio |",
                   "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---|---:|"]
            for r in pts:
                x = int(r["threads"]) if grid == "wrk-threads" else int(r["concurrency"])
                if grid == "wrk-threads":
                    sp, src = seeds.wrk_threads(cfg, x)
                else:  # the seeds ran no wrk -t1 -c C: their ab figure at the same concurrency
                    sp, src = seeds.ab(cfg, x)
                    src = f"{src} (ab, same c)" if src else src
                ratio = ratio_cell(r, sp["rps"] if sp else None)
                md.append(f"| {x} | {f(r.get('time_taken_s'))} | {f(r.get('complete_requests'), 0)} "
                          f"| {fr(r, 'failed_requests', 0)} | {f(r.get('total_transferred_bytes'), 0)} "
                          f"| {fr(r, 'requests_per_second')} | {f(r.get('time_per_request_ms'), 3)} "
                          f"| {f(r.get('transfer_rate_kbps'))} | {f(r.get('latency_p50_ms'), 3)} "
                          f"| {f(r.get('latency_p99_ms'), 3)} | {fr(r, 'server_cpu_us_per_req')} "
                          f"| {status_cell(r)} | {f(sp['rps']) if sp else '—'} | {src or '—'} | {ratio} |")
            if grid == "wrk-conns":
                md += ["", WRK_CONNS_SEED_NOTE]
            md.append("")
    with open(os.path.join(out, "tables.md"), "w") as fh:
        fh.write("\n".join(md))


# ---------------------------------------------------------------- the 20x target

# The project's target: every event-engine point at every concurrency, 0 failed requests and at least
# TARGET x the seeds' asynchronous server's requests/s at the same concurrency.
EVENT_CONFIGS = ["uring", "reactor", "lb+uring", "lb+reactor"]
TARGET = 20
# ab -n 1000 -c C gives each of its C keep-alive connections about 1000/C requests. At this many or fewer
# (C >= 250 on the seeds' grid: 300, 500, 1000) the run is mostly ab opening its connections, from one
# thread, and lasts a few ms: the longer wrk -t1 -c C at the same concurrency measures the server.
SHORT_AB_REQS_PER_CONN = 4


def find_point(rows, cfg, grid, c):
    return next((r for r in pick(rows, cfg, grid) if str(r["concurrency"]) == str(c)), None)


def ab_is_short(c):
    return 1000 / c <= SHORT_AB_REQS_PER_CONN


def judge(p, seed_rps):
    """One measurement of one point against the target: (verdict, detail). Verdicts: absent, failed (a
    round did not measure it), errors (failed requests in some round), noseed, met (every round at or
    above TARGET x), median (the median is, some round is not), below."""
    if p is None:
        return "absent", "not run"
    rs = rounds_of(p)
    bad = [x for x in rs if not ok(x)]
    if bad:
        return "failed", f"{bad[0].get('status')} in {len(bad)}/{len(rs)} round{'s' if len(rs) > 1 else ''}"
    errors = sum(num(x.get("failed_requests")) or 0 for x in rs)
    if errors:
        return "errors", f"{errors:.0f} failed requests" + (f" over {len(rs)} rounds" if len(rs) > 1 else "")
    if not seed_rps:
        return "noseed", ""
    ratios = [num(x["requests_per_second"]) / seed_rps for x in rs]
    med = statistics.median(ratios)
    if min(ratios) >= TARGET:
        return "met", f"{med:.1f}×"
    if med >= TARGET:
        return "median", f"{med:.1f}×, lowest round {min(ratios):.1f}×"
    return "below", f"{med:.1f}×"


def failed_total(p):
    if p is None:
        return "—"
    rs = rounds_of(p)
    bad = sum(1 for x in rs if not ok(x))
    n = sum(num(x.get("failed_requests")) or 0 for x in rs if ok(x))
    if bad == len(rs):
        return f"— ({rs[0].get('status')})"
    return f"{n:.0f}" + (f" (+ {bad} round{'s' if bad > 1 else ''} not measured)" if bad else "")


def target_point(rows, seeds, cfg, c):
    """Everything the 20x table says about one configuration at one concurrency."""
    sp, src = seeds.ab(cfg, c)
    seed_rps = sp["rps"] if sp else None
    ab, wrk = find_point(rows, cfg, "ab", c), find_point(rows, cfg, "wrk-conns", c)
    (va, da), (vw, dw) = judge(ab, seed_rps), judge(wrk, seed_rps)
    short = ab_is_short(c)
    def says(v, d):
        return {"met": f"yes ({d})", "median": f"on the median only ({d})", "below": f"no ({d})",
                "absent": "not run"}.get(v, f"{v} {d}".strip())

    ab_name = "ab (short here)" if short else "ab"
    if seed_rps is None:
        met, verdict = None, "no seed figure at this concurrency"
    elif va in ("failed", "errors") or vw in ("failed", "errors"):
        met = False
        verdict = "**no**: " + "; ".join(f"{t} {d}" for t, (v, d) in (("ab", (va, da)), ("wrk", (vw, dw)))
                                         if v in ("failed", "errors"))
    elif va == "met" and vw == "met":
        met, verdict = True, "yes, by ab and by wrk"
    elif vw == "met" and (short or va == "absent"):
        met, verdict = True, "yes, by wrk " + (f"(ab is short here; ab alone {da})" if va != "absent" else "(no ab run)")
    elif va == "met" and vw == "absent":
        met, verdict = True, "yes, by ab (no wrk -t1 run at this concurrency)"
    elif va == "absent" and vw == "absent":
        met, verdict = None, "not measured"
    elif "met" in (va, vw) or "median" in (va, vw):
        met, verdict = False, f"**partly**: {ab_name} {says(va, da)}, wrk {says(vw, dw)}"
    else:
        met, verdict = False, f"**no**: {ab_name} {says(va, da)}, wrk {says(vw, dw)}"
    return {"c": c, "seed": seed_rps, "src": src, "ab": ab, "wrk": wrk, "met": met, "verdict": verdict,
            "short": short}


def target_configs(rows, meta):
    present = configs_in(rows)
    return [c for c in EVENT_CONFIGS if c in present or c in meta.get("topologies", {})]


def target_summary(rows, meta, seeds):
    """One line per event-engine configuration: at how many concurrencies the target is met, and where not."""
    lines = []
    present = set(configs_in(rows)) | set(meta.get("topologies", {}))
    for cfg in EVENT_CONFIGS:
        if cfg not in present:
            lines.append(f"- `{cfg}`: not in this run.")
            continue
        cs = [int(r["concurrency"]) for r in pick(rows, cfg, "ab")]
        pts = [target_point(rows, seeds, cfg, c) for c in cs]
        judged = [p for p in pts if p["met"] is not None]
        met = [p for p in judged if p["met"]]
        by_wrk = [str(p["c"]) for p in met if p["verdict"].startswith("yes, by wrk")]
        missed = [f"c={p['c']}" for p in judged if not p["met"]]
        noseed = [str(p["c"]) for p in pts if p["seed"] is None]
        if not judged:
            lines.append(f"- `{cfg}`: no point measured against a seed figure in this run.")
            continue
        lines.append(f"- `{cfg}`: **met at {len(met)} of {len(judged)}** concurrencies"
                     + (f" (at c = {', '.join(by_wrk)} by the longer wrk run)" if by_wrk else "")
                     + (f"; **not met** at {', '.join(missed)}" if missed else "")
                     + (f"; no seed figure at c = {', '.join(noseed)}" if noseed else "") + ".")
    return lines


def target_section(rows, meta, seeds):
    """Markdown: the target, a summary line per configuration, then one table per event-engine configuration
    with a row per concurrency of the ab grid."""
    cfgs = target_configs(rows, meta)
    if not cfgs:
        return "No event-engine configuration (uring, reactor, lb+uring, lb+reactor) in this run."
    wc = meta.get("wrk_conns_duration")
    L = [f"Target: every event-engine point at every concurrency has 0 failed requests and at least {TARGET}× "
         "the seeds' asynchronous server's requests/s at the same concurrency (the seeds' ab tables: seed 001, "
         "seed 000 at c = 10; behind the balancer, seed 001's balancer table). Each concurrency is judged by "
         f"ab -n 1000 -c C and by the longer `wrk -t1 -c C -d {wc}s`; where ab's 1000 requests give each "
         f"connection {SHORT_AB_REQS_PER_CONN} or fewer (c ≥ {min(c for c in range(1, 1001) if ab_is_short(c))}), "
         "ab's few milliseconds time mostly its own connection set-up and the wrk run is the measurement of "
         "the server. Ratios are the median over rounds, [min–max] with several rounds.", ""]
    L += target_summary(rows, meta, seeds) + [""]
    for cfg in cfgs:
        cs = [int(r["concurrency"]) for r in pick(rows, cfg, "ab")]
        L += [f"**{cfg}**", "",
              f"| C | Seed req/s at C | {TARGET}× seed | ab req/s | ab ratio | wrk -t1 -c C req/s | wrk ratio "
              "| Failed requests (ab / wrk) | ab run (ms; requests per connection) | Met? |",
              "|---:|---:|---:|---:|---:|---:|---:|---|---:|---|"]
        if not cs:
            L.append(f"| — | — | — | — | — | — | — | — | — | no ab points for {cfg} in this run |")
        for c in cs:
            p = target_point(rows, seeds, cfg, c)
            ab, wrk, sr = p["ab"], p["wrk"], p["seed"]
            ab_ms = f"{num(ab['time_taken_s']) * 1000:.0f}" if ab and ok(ab) and num(ab.get("time_taken_s")) else "—"
            L.append(f"| {c} | {f(sr) if sr else '—'} | {f(TARGET * sr, 0) if sr else '—'} "
                     f"| {fr(ab, 'requests_per_second', 0) if ab else '—'} | {ratio_cell(ab, sr) if ab else '—'} "
                     f"| {fr(wrk, 'requests_per_second', 0) if wrk else '—'} | {ratio_cell(wrk, sr) if wrk else '—'} "
                     f"| {failed_total(ab)} / {failed_total(wrk)} "
                     f"| {ab_ms}; {1000 / c:.1f}{' (short)' if p['short'] else ''} | {p['verdict']} |")
        L.append("")
    return "\n".join(L)


# ---------------------------------------------------------------- charts

def write_charts(out, rows, seeds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfgs = configs_in(rows)
    styles = {c: ("-" if not c.startswith(("lb+", "haproxy")) else "--") for c in cfgs}

    def series(cfg, grid, xkey, ykey):
        """x, the median over rounds, and the [min, max] over rounds (equal to the median with one round)."""
        pts = [(num(r[xkey]), num(r[ykey]), spread(r, ykey) or (num(r[ykey]),) * 2)
               for r in pick(rows, cfg, grid) if ok(r) and num(r.get(ykey))]
        return [p[0] for p in pts], [p[1] for p in pts], [p[2][0] for p in pts], [p[2][1] for p in pts]

    def panel(ax, grid, xkey, ykey, title, ylabel, seed_lines=()):
        drawn = False
        for cfg in cfgs:
            xs, ys, lo, hi = series(cfg, grid, xkey, ykey)
            if xs:
                line, = ax.plot(xs, ys, styles[cfg], marker="o", markersize=3, label=cfg)
                if lo != hi:  # several rounds: shade the range around the median
                    ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15, linewidth=0)
                drawn = True
        for label, xs, ys in seed_lines:
            ax.plot(xs, ys, ":", color="gray", marker="x", markersize=3, label=label)
        ax.set_title(title, fontsize=9)
        ax.set_xlabel(xkey.replace("_", " "))
        ax.set_ylabel(ylabel)
        ax.set_xscale("log")
        if drawn:
            ax.set_yscale("log")
        ax.grid(True, which="both", alpha=0.3)
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=6, framealpha=0.6)

    seed_ab = [(f"seed {t['seed']} {t['table']}", [p["c"] for p in t["points"]], [p["rps"] for p in t["points"]])
               for t in seeds.data["ab"] if t["seed"] == "001"]
    seed_t = [(f"seed 004 {t['table'].split(' (')[0]}", [p["t"] for p in t["points"]],
               [p["rps"] for p in t["points"]]) for t in seeds.data["wrk_threads"]]

    figs = {
        "requests_per_second": [("ab", "concurrency", "requests_per_second", "ab -n 1000 -c C", "requests/s", seed_ab),
                                ("wrk-conns", "concurrency", "requests_per_second",
                                 "wrk -t1 -c C (gray: the seeds' ab at the same C)", "requests/s", seed_ab)],
        "p99_latency": [("ab", "concurrency", "latency_p99_ms", "ab -n 1000 -c C (ms, whole ms only)", "p99 ms", ()),
                        ("wrk-conns", "concurrency", "latency_p99_ms", "wrk -t1 -c C", "p99 ms", ())],
        "wrk_threads": [("wrk-threads", "threads", "requests_per_second", "wrk -c 1000 -t T", "requests/s", seed_t),
                        ("wrk-threads", "threads", "latency_p99_ms", "wrk -c 1000 -t T", "p99 ms", ())],
    }
    for name, panels in figs.items():
        fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 4.5))
        for ax, (grid, xkey, ykey, title, ylabel, seed_lines) in zip(axes, panels):
            panel(ax, grid, xkey, ykey, title, ylabel, seed_lines)
        fig.suptitle(name.replace("_", " "), fontsize=11)
        fig.tight_layout()
        for ext in ("png", "svg"):
            fig.savefig(os.path.join(out, f"{name}.{ext}"), dpi=110)
        plt.close(fig)
    return list(figs)


# ---------------------------------------------------------------- architecture

def write_architecture(out, meta):
    topo = meta.get("topologies", {})
    lb_port, dport = meta.get("lb_port", 44444), meta.get("direct_port", 45000)
    bports = meta.get("backend_ports", [9002, 9003, 9004, 9005])

    def style(name):
        t = topo.get(name, {})
        if t.get("status") == "ok":
            return 'style="rounded,filled", fillcolor="#dff0d8"'
        return 'style="rounded,dashed", color=gray, fontcolor=gray'

    def label(name, text):
        t = topo.get(name, {})
        if t.get("status") == "ok":
            return text
        reason = t.get("reason", "?").split("error: ")[-1].split(";")[0][:60].replace('"', "'")
        return text + NL + "(unavailable: " + reason + ")"

    def dp(name):  # the direct port a configuration actually used
        return topo.get(name, {}).get("ports", {}).get("direct", dport)

    def lp(name):
        return topo.get(name, {}).get("ports", {}).get("lb", lb_port)

    def bp(name):
        b = topo.get(name, {}).get("ports", {}).get("backends") or bports
        return f"{b[0]}-{b[-1]}"

    sched = ", SCHED_BATCH" if meta.get("server_sched") == "batch" else ""
    g = ["digraph sweep {", "  rankdir=LR; node [shape=box, fontname=Helvetica, fontsize=10];",
         "  edge [fontname=Helvetica, fontsize=9];",
         '  subgraph cluster_client { label="core 0 (taskset -c 0)"; style=dashed;',
         '    client [label="client\\nab -n 1000 -c C -k\\nwrk -c 1000 -t T\\nwrk -t1 -c C"]; }',
         f'  subgraph cluster_server {{ label="core 1 (taskset -c 1{sched}): every server process"; style=dashed;']
    direct = [c for c in topo if not c.startswith(("lb+", "haproxy"))]
    lbs = [c for c in topo if c.startswith("lb+")]
    for c in direct:
        text = f"nginx (1 worker)\\n127.0.0.1:{dp(c)}" if c == "nginx" else \
            f"ringwire serve --engine {c}\\n--workers {4 if c == 'prefork' else 1}, 127.0.0.1:{dp(c)}"
        g.append(f'    "d_{c}" [label="{label(c, text)}", {style(c)}];')
    for c in lbs:
        e = c[3:]
        text = "ringwire lb --engine uring" + NL + f"roundrobin, :{lp(c)}"
        g.append(f'    "lb_{c}" [label="{label(c, text)}", {style(c)}];')
        g.append(f'    "be_{c}" [label="4 x ringwire serve --engine {e}\\n--workers {4 if e == "prefork" else 1}, :{bp(c)}", '
                 f'{style(c)}];')
    if "haproxy+nginx" in topo:
        c = "haproxy+nginx"
        text = "HAProxy mode tcp" + NL + f"nbthread 1, :{lp(c)}"
        g.append(f'    "lb_{c}" [label="{label(c, text)}", {style(c)}];')
        g.append(f'    "be_{c}" [label="4 x nginx (1 worker)\\n:{bp(c)}", {style(c)}];')
    g.append("  }")
    for c in direct:
        g.append(f'  client -> "d_{c}" [label=":{dp(c)}"];')
    for c in lbs + (["haproxy+nginx"] if "haproxy+nginx" in topo else []):
        g.append(f'  client -> "lb_{c}" [label=":{lp(c)}"];')
        g.append(f'  "lb_{c}" -> "be_{c}" [label="round robin"];')
    g.append("}")
    dot_path = os.path.join(out, "architecture.dot")
    with open(dot_path, "w") as fh:
        fh.write("\n".join(g) + "\n")
    if shutil.which("dot"):
        subprocess.run(["dot", "-Tsvg", dot_path, "-o", os.path.join(out, "architecture.svg")], check=True)
        subprocess.run(["dot", "-Tpng", dot_path, "-o", os.path.join(out, "architecture.png")], check=True)
    else:
        print("bench_report: graphviz's dot is missing (make setup); architecture.svg not drawn", file=sys.stderr)


# ---------------------------------------------------------------- REPORT.md

def write_all(out, rows, meta, seeds_path):
    rows = [{k: ("" if v is None else v) for k, v in r.items()} for r in rows]
    write_csv(out, rows)
    rows = read_csv(out)  # one representation (strings) from here on, as when redrawing
    with open(os.path.join(out, "meta.json"), "w") as fh:
        json.dump(meta, fh, indent=2, default=str)
    redraw(out)


def redraw(out):
    raw = read_csv(out)
    rows = aggregate(raw)  # one row per point: the median over rounds, each round's row in "_rounds"
    with open(os.path.join(out, "meta.json")) as fh:
        meta = json.load(fh)
    seeds = Seeds(os.path.join(HERE, "seeds.json"))
    write_tables(out, rows, meta, seeds, raw)
    charts = write_charts(out, rows, seeds)
    write_architecture(out, meta)
    import bench_reading
    bench_reading.write_report(out, rows, meta, seeds, charts, headline(rows, meta), raw,
                               target_section(rows, meta, seeds))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: perf/bench_report.py BENCH_RESULTS_DIR")
    sys.dont_write_bytecode = True
    sys.path.insert(0, HERE)
    redraw(sys.argv[1])
