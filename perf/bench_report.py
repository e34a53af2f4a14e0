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
import subprocess
import sys

COLUMNS = [
    "configuration", "engine", "topology", "grid", "tool", "concurrency", "threads", "duration_s", "requests",
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
    with open(os.path.join(out, "results.csv"), newline="") as fh:
        return list(csv.DictReader(fh))


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
    if r.get("status") == "ok":
        return "ok" + (f" ({r['reason']})" if r.get("reason") else "")
    return f"**{r.get('status')}**: {r.get('reason', '')}".replace("|", "/")


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
        lines.append(f"| {cfg} | {st} | " + (f"{f(peak['requests_per_second'], 0)} (c={peak['concurrency']})"
                                              if peak else "—")
                     + f" | {f(c50['requests_per_second'], 0) if c50 else '—'} | "
                     f"{f(c50['latency_p99_ms']) if c50 else '—'} | {f(c50['server_cpu_us_per_req']) if c50 else '—'} | "
                     f"{ratio} | {f(t10['requests_per_second'], 0) if t10 else '—'} |")
    return "\n".join(lines)


def write_tables(out, rows, meta, seeds):
    wt, wc = meta.get("wrk_threads_duration"), meta.get("wrk_conns_duration")
    md = ["# Sweep tables", "",
          f"Run {meta.get('started', '?')}, {'quick grid' if meta.get('quick') else 'full grid'}. "
          "Columns follow the seeds' ab tables (SEEDS.md, \"Exact columns to regenerate\"); "
          "\"Time per request\" is ab's first line (mean per request, as seeds 000/002/003 print it; "
          "seed 001 prints the second line, which is time taken ÷ 1000: compare requests/s, not this column). "
          "Server CPU is utime+stime of every server process of the configuration over the point. "
          "The seed figure is the seeds' number at the same point (perf/seeds.json says where each is from); "
          "ratio = ours ÷ seed's requests/s. Failed and unavailable points are listed, never dropped.", "",
          "## Headline", "", headline(rows, meta), ""]
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
                ratio = (f"{num(r['requests_per_second']) / sp['rps']:.1f}×"
                         if sp and ok(r) else "—")
                md.append(f"| {c} | {f(r.get('time_taken_s'), 3)} | {f(r.get('complete_requests'), 0)} "
                          f"| {f(r.get('failed_requests'), 0)} | {f(r.get('total_transferred_bytes'), 0)} "
                          f"| {f(r.get('requests_per_second'))} | {f(r.get('time_per_request_ms'), 3)} "
                          f"| {f(r.get('transfer_rate_kbps'))} | {f(r.get('latency_p50_ms'), 0)} "
                          f"| {f(r.get('latency_p99_ms'), 0)} | {f(r.get('server_cpu_us_per_req'))} "
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
                sp, src = seeds.wrk_threads(cfg, x) if grid == "wrk-threads" else (None, None)
                ratio = f"{num(r['requests_per_second']) / sp['rps']:.1f}×" if sp and ok(r) else "—"
                md.append(f"| {x} | {f(r.get('time_taken_s'))} | {f(r.get('complete_requests'), 0)} "
                          f"| {f(r.get('failed_requests'), 0)} | {f(r.get('total_transferred_bytes'), 0)} "
                          f"| {f(r.get('requests_per_second'))} | {f(r.get('time_per_request_ms'), 3)} "
                          f"| {f(r.get('transfer_rate_kbps'))} | {f(r.get('latency_p50_ms'), 3)} "
                          f"| {f(r.get('latency_p99_ms'), 3)} | {f(r.get('server_cpu_us_per_req'))} "
                          f"| {status_cell(r)} | {f(sp['rps']) if sp else '—'} | {src or '—'} | {ratio} |")
            md.append("")
    with open(os.path.join(out, "tables.md"), "w") as fh:
        fh.write("\n".join(md))


# ---------------------------------------------------------------- charts

def write_charts(out, rows, seeds):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cfgs = configs_in(rows)
    styles = {c: ("-" if not c.startswith(("lb+", "haproxy")) else "--") for c in cfgs}

    def series(cfg, grid, xkey, ykey):
        pts = [(num(r[xkey]), num(r[ykey])) for r in pick(rows, cfg, grid) if ok(r) and num(r.get(ykey))]
        return [p[0] for p in pts], [p[1] for p in pts]

    def panel(ax, grid, xkey, ykey, title, ylabel, seed_lines=()):
        drawn = False
        for cfg in cfgs:
            xs, ys = series(cfg, grid, xkey, ykey)
            if xs:
                ax.plot(xs, ys, styles[cfg], marker="o", markersize=3, label=cfg)
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
                                ("wrk-conns", "concurrency", "requests_per_second", "wrk -t1 -c C", "requests/s", ())],
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

    g = ["digraph sweep {", "  rankdir=LR; node [shape=box, fontname=Helvetica, fontsize=10];",
         "  edge [fontname=Helvetica, fontsize=9];",
         '  subgraph cluster_client { label="core 0 (taskset -c 0)"; style=dashed;',
         '    client [label="client\\nab -n 1000 -c C -k\\nwrk -c 1000 -t T\\nwrk -t1 -c C"]; }',
         f'  subgraph cluster_server {{ label="core 1 (taskset -c 1): every server process"; style=dashed;']
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
    rows = read_csv(out)
    with open(os.path.join(out, "meta.json")) as fh:
        meta = json.load(fh)
    seeds = Seeds(os.path.join(HERE, "seeds.json"))
    write_tables(out, rows, meta, seeds)
    charts = write_charts(out, rows, seeds)
    write_architecture(out, meta)
    import bench_reading
    bench_reading.write_report(out, rows, meta, seeds, charts, headline(rows, meta))


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.exit("usage: perf/bench_report.py BENCH_RESULTS_DIR")
    sys.path.insert(0, HERE)
    redraw(sys.argv[1])
