"""Writes REPORT.md for a sweep: method, headline, charts, architecture, and a
short reading of the numbers. The reading quotes the run's own figures; where
a configuration could not run, it leaves a marked placeholder instead."""
import os
import statistics
import subprocess

import bench_report
from bench_report import configs_in, num, ok, pick

HERE = os.path.dirname(os.path.abspath(__file__))


def value(rows, cfg, grid, x, key="requests_per_second"):
    xk = "threads" if grid == "wrk-threads" else "concurrency"
    for r in pick(rows, cfg, grid):
        if str(r[xk]) == str(x) and ok(r):
            return num(r.get(key))
    return None


def ratios(rows, a, b, grid, key="requests_per_second"):
    """a ÷ b at every point both measured."""
    xk = "threads" if grid == "wrk-threads" else "concurrency"
    out = []
    for r in pick(rows, a, grid):
        vb = value(rows, b, grid, r[xk], key)
        va = num(r.get(key)) if ok(r) else None
        if va and vb:
            out.append((r[xk], va / vb))
    return out


def span(rs):
    if not rs:
        return "no common points"
    vs = [v for _, v in rs]
    if len(vs) == 1:
        return f"{vs[0]:.2f}× (one point, at {rs[0][0]})"
    return f"{min(vs):.2f}–{max(vs):.2f}× (median {statistics.median(vs):.2f}×, over {len(vs)} points)"


def available(meta, cfg):
    return meta.get("topologies", {}).get(cfg, {}).get("status") == "ok"


def placeholder(meta, cfg):
    t = meta.get("topologies", {}).get(cfg)
    if t is None:
        return f"> **PLACEHOLDER ({cfg})**: not in this sweep's configuration list."
    return (f"> **PLACEHOLDER ({cfg})**: no data in this run — {t.get('reason', '?')}. "
            "Rerun `make bench` once the engine is merged; this paragraph is then filled from the data.")


def load_sentence(rows):
    # The wrk -c 1000 -t T points run T client threads: they raise the 1-minute average themselves, and it
    # takes about a minute to decay, into the next configuration's points. Only the single-threaded
    # clients' points say something about other work on the machine, and even they carry that tail.
    loads = [(r["configuration"], num(r.get("loadavg_1m"))) for r in rows
             if num(r.get("loadavg_1m")) is not None and r.get("grid") in ("ab", "wrk-conns")]
    if not loads:
        return ""
    per = {}
    for cfg, v in loads:
        per.setdefault(cfg, []).append(v)
    worst = max(per, key=lambda c: max(per[c]))
    return (f"The 1-minute load average (column loadavg_1m) ranged {min(v for _, v in loads):.1f}–"
            f"{max(v for _, v in loads):.1f} over the ab and wrk -t1 points (an idle run shows about 2: client "
            f"and server); it peaked during `{worst}` ({min(per[worst]):.1f}–{max(per[worst]):.1f}). The sweep's "
            "own wrk -t T points (up to 200 client threads) lift the average for about a minute after them, "
            "so a high figure right after them is the sweep's own tail; a high figure elsewhere means other "
            "work ran. A configuration measured under a higher load than its neighbour loses requests/s to "
            "the other work, not to its own design; CPU µs per request is hurt less.")


def git_rev():
    try:
        return subprocess.run(["git", "-C", HERE, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "?"


def engine_paragraph(rows, meta, cfg, what):
    if not available(meta, cfg):
        return placeholder(meta, cfg)
    vs_uring = span(ratios(rows, cfg, "uring", "wrk-conns"))
    cpu = span(ratios(rows, cfg, "uring", "wrk-conns", "server_cpu_us_per_req"))
    t = span(ratios(rows, cfg, "uring", "wrk-threads"))
    return (f"`{cfg}` ({what}): requests/s against `uring` under wrk -t1 -c C: {vs_uring}; "
            f"server CPU per request against `uring`: {cpu}; under wrk -c 1000 -t T: {t}.")


def wake_latency_paragraph(rows, meta, seeds):
    """What the wake-latency probe (meta.json "wake_latency": blocking_rt_us, server_spin_rt_us,
    same_core_rt_us) implies at c=1: one connection sends its next request only after the previous answer,
    so it can do at most 1e6 / round trip requests/s. Empty when the run has no such entry."""
    wl = meta.get("wake_latency")
    if not isinstance(wl, dict) or not num(wl.get("blocking_rt_us")):
        return []
    rt = num(wl["blocking_rt_us"])
    ceiling = 1e6 / rt
    others = [(k, what) for k, what in (("server_spin_rt_us", "with the server spinning instead of sleeping"),
                                        ("same_core_rt_us", "with client and server on the same core"))
              if num(wl.get(k))]
    spin = num(wl.get("server_spin_rt_us"))
    spin_ceiling = 1e6 / spin if spin else None
    L = [f"**The c=1 ceiling.** The wake-latency probe measured a blocking round trip between the two cores of "
         f"{rt:.1f} µs" + "".join(f"; {what}, {num(wl[k]):.1f} µs" for k, what in others) + ". "
         "With one client connection the next request leaves only after the previous response arrives, and on "
         "this VM each message wakes a sleeping core, so c=1 can do about 1e6 / "
         f"{rt:.1f} µs = **{ceiling:,.0f} req/s** against a server that sleeps between requests, as every "
         "configuration here does by default"
         + (" (" + "; ".join(f"{1e6 / num(wl[k]):,.0f} req/s {what}" for k, what in others) + ")" if others else "")
         + ". The probe bounces one byte; a real request costs a little more, or a little less when a "
         "response catches its core before it is fully asleep, so read it as a level, not a hard limit."]
    for cfg in bench_report.target_configs(rows, meta):
        sp, src = seeds.ab(cfg, 1)
        if not sp:
            continue
        goal = bench_report.TARGET * sp["rps"]
        vals = [(g, value(rows, cfg, g, 1)) for g in ("ab", "wrk-conns")]
        vals = [(("ab" if g == "ab" else "wrk -t1 -c1"), v) for g, v in vals if v]
        if goal <= ceiling:
            rel = f"{ceiling / goal:.1f}× below that level: reachable in principle"
        elif spin_ceiling and goal <= spin_ceiling:
            rel = (f"{goal / ceiling:.1f}× above that level: reachable only by a server that busy-polls instead of "
                   f"sleeping (up to {spin_ceiling:,.0f} req/s; `--busy-poll`), not by a sleeping one")
        else:
            rel = (f"{goal / ceiling:.1f}× above that level"
                   + (f", and above the {spin_ceiling:,.0f} req/s of a server that never sleeps" if spin_ceiling
                      else "")
                   + ": no server reaches it at c=1 on this machine against a client that sleeps until each "
                   "response arrives (ab, wrk)")
        L.append(f"- `{cfg}`: {bench_report.TARGET}× the seeds' c=1 figure ({sp['rps']:.2f}, {src}) is "
                 f"{goal:,.0f} req/s, {rel}"
                 + (f"; measured at c=1: {', '.join(f'{t} {v:,.0f} req/s' for t, v in vals)}, "
                    f"at best {max(v for _, v in vals) / ceiling:.0%} of the sleeping-server level" if vals else "")
                 + ".")
    return L + [""]


def short_ab_paragraph(rows, meta):
    """Where ab's run is too short to measure the server, from this run's own ab times."""
    cfgs = [c for c in bench_report.target_configs(rows, meta) if available(meta, c)]
    short_cs = sorted({int(r["concurrency"]) for c in cfgs for r in pick(rows, c, "ab")
                       if bench_report.ab_is_short(int(r["concurrency"]))})
    if not short_cs:
        return []
    times = [num(r["time_taken_s"]) * 1000 for c in cfgs for r in pick(rows, c, "ab")
             if int(r["concurrency"]) in short_cs and ok(r) and num(r.get("time_taken_s"))]
    wrk_n = [num(r["complete_requests"]) for c in cfgs for r in pick(rows, c, "wrk-conns")
             if int(r["concurrency"]) in short_cs and ok(r) and num(r.get("complete_requests"))]
    L = [f"**Where ab is too short.** At c = {', '.join(map(str, short_cs))} ab's 1000 requests give each "
         f"keep-alive connection {', '.join(f'{1000 / c:.1f}' for c in short_cs)} requests"
         + (f", and the whole run took {min(times):.0f}–{max(times):.0f} ms here" if times else "")
         + ": what ab times there is mostly its own opening of the connections, from one thread, not the "
         "server's serving of requests. At those concurrencies the longer "
         f"`wrk -t1 -c C -d {meta.get('wrk_conns_duration')}s`"
         + (f" ({min(wrk_n):,.0f}–{max(wrk_n):,.0f} requests per run)" if wrk_n else "")
         + " is the measurement of the server, and the table's verdict says when it is the one that met the target."]
    return L + [""]


def ab_time_span(rows):
    ms = [num(r["time_taken_s"]) * 1000 for c in configs_in(rows) for r in pick(rows, c, "ab")
          if ok(r) and num(r.get("time_taken_s"))]
    return f"{min(ms):.0f}–{max(ms):.0f} ms" if ms else "a few ms"


def sched_sentence(meta):
    if meta.get("server_sched", "normal") == "batch":
        return ("- **Scheduling**: every server process runs SCHED_BATCH (`chrt --batch 0`; peers too). A balancer "
                "and its backends pass every message to one another on the one core; under the default policy "
                "each wake-up preempts the sender, a context switch per message instead of per batch; a single "
                "server alone on its core is hardly affected. `make bench SCHED=normal` runs the default policy, "
                "to compare (`BENCH_ARGS=--configs=lb+uring,lb+reactor` for just the balancers).")
    return ("- **Scheduling**: server processes run under the default policy (SCHED_OTHER; `make bench SCHED=normal`): "
            "each wake-up of a backend by the balancer on the shared core preempts the balancer (and back), a "
            "switch per message.")


def write_report(out, rows, meta, seeds, charts, headline, raw=None, target_md=""):
    """rows: one per point (the median over rounds, bench_report.aggregate); raw: one per point per round."""
    raw = raw if raw is not None else rows
    cfgs = configs_in(rows)
    rounds = bench_report.n_rounds(meta, raw)
    n_ok = sum(1 for r in raw if r["status"] == "ok")
    n_failed = sum(1 for r in raw if r["status"] == "failed")
    n_unav = sum(1 for r in raw if r["status"] == "unavailable")
    dur = meta.get("duration_s", 0)
    wt, wc = meta.get("wrk_threads_duration"), meta.get("wrk_conns_duration")
    lb_port, dport = meta.get("lb_port"), meta.get("direct_port")
    bp = meta.get("backend_ports", [])
    L = [
        "# ringwire sweep report", "",
        f"Run started {meta.get('started')}, took {dur / 60:.1f} min, binary `{meta.get('binary')}` "
        f"(commit {git_rev()}), {'**quick grid** (make bench QUICK=1)' if meta.get('quick') else 'full grid'}"
        + (", **interrupted**" if meta.get("interrupted") else "")
        + (f". {len(rows)} points × {rounds} rounds = {len(raw)} runs: " if rounds > 1 else f". {len(rows)} points: ")
        + f"{n_ok} ok, {n_failed} failed, {n_unav} unavailable.", "",
        "**The numbers are indicative.** This is a shared 2-core machine; other work (compiles) may have run "
        "during the sweep, and "
        + ("each point runs once (`make bench ROUNDS=N` repeats and alternates). " if rounds <= 1 else
           f"each point ran in {rounds} rounds, the configuration order rotated each round so that no "
           "configuration always runs first or last; the tables give the median and the [min–max] range. ")
        + "Compare configurations measured in the same run, as "
        "ratios, and prefer CPU per request where the client is the bottleneck (DESIGN.md). "
        + load_sentence(raw), "",
        "Files: [tables.md](tables.md) (every point, in the seeds' columns, beside the seeds' figures), "
        "[results.csv](results.csv) (every column of every point), `raw/` (each tool's output and the "
        "servers' logs), `meta.json`.", "",
        "## What ran", "",
        "![architecture](architecture.svg)", "",
        f"- **Pinning**: every client (ab, wrk) runs under `taskset -c 0`; every server process of a "
        f"configuration — the single server, or the balancer *and* its four backends — under `taskset -c 1`. "
        "So every configuration gets the same one core; the balancer topologies share it between five processes.",
        sched_sentence(meta),
        f"- **Direct**: `ringwire serve --engine E --workers 1` on 127.0.0.1:{dport} for E = uring, reactor, "
        "threads (one acceptor, a thread per connection), and `--workers 4` for prefork (a pool of four "
        "processes: one process serving one connection at a time would be no pool). Peer: nginx, "
        "`worker_processes 1`, sendfile, open_file_cache, no access log.",
        "- **Timeouts**: a point's client gets its duration plus 20 s. ab -k against prefork with more "
        "clients than processes never finishes (the pool serves a keep-alive connection to its end while the "
        "others queue): those points are recorded as failed, timed out, which is that model's real behaviour "
        "under ab -k.",
        f"- **Balanced** (the seeds' topology): `ringwire lb --engine uring --policy roundrobin --workers 1` on "
        f"127.0.0.1:{lb_port}, in front of four `ringwire serve --engine E` (1 worker; prefork 4) on "
        f"127.0.0.1:{bp[0] if bp else '?'}-{bp[-1] if bp else '?'}. Peer: HAProxy 2.6 `mode tcp`, "
        "`nbthread 1`, `balance roundrobin`, in front of four nginx (1 worker each) on the same ports.",
        f"- **Document**: `{meta.get('path')}` from the repository's www/ (index.html, 265 bytes; the seeds "
        "asked for `/` too, and their page was 31 bytes).",
        "- **Grids**: `ab -n 1000 -c C -r -k -s 99999` for C = "
        + ("1, 50" if meta.get("quick") else "1, 10, 25, 50, 100, 200, 300, 500, 1000")
        + f" (seeds 000/001); `wrk -c 1000 -t T -d {wt}s` for T = "
        + ("10" if meta.get("quick") else "10, 50, 100, 150, 200")
        + f" (seed 004). In wrk, `-t` is the number of client *threads*, all sharing the 1000 connections: "
        "the seeds read it as concurrency, but concurrency is 1000 at every T, and more threads on one client "
        f"core only add client overhead. The seeds ran wrk for its default 10 s; here {wt} s, to keep the "
        "sweep short.",
        f"- **Longer runs**: 1000 requests finish in a few milliseconds against these servers, too short to "
        f"measure well (ab's times have 1 ms resolution, CPU ticks 10 ms), so every ab concurrency is also "
        f"run as `wrk --latency -t1 -c C -d {wc}s`. Its p50/p99 are the latency figures to trust; ab's are "
        "whole milliseconds.",
        "- **Server CPU**: utime+stime from /proc/PID/stat of every server process (threads included; "
        "reaped children through cutime+cstime), before and after each point, divided by the requests completed.",
        "- A configuration that cannot start (engine not built, port taken, package missing) has each of its "
        "points recorded as `unavailable` with the reason; a point whose client fails is `failed`.",
    ]
    for cfg, t in meta.get("topologies", {}).items():
        for note in t.get("notes") or []:
            L.append(f"- **Port** ({cfg}): {note} (the seeds' ports 44444 and 45000 lie in Linux's ephemeral range).")
    L += ["", "## Headline", "", headline, "",
          f"## {bench_report.TARGET}× target", "", target_md, ""]
    L += short_ab_paragraph(rows, meta) + wake_latency_paragraph(rows, meta, seeds)
    L += ["## Charts", ""]
    for c in charts:
        L += [f"![{c}]({c}.svg)", ""]
    L += ["Solid lines: one server; dashed: behind a balancer; dotted gray: the seeds' own figures "
          "(ab, and wrk -t1 -c C beside them: seed 001's ab tables; wrk -t: seed 004). Axes are logarithmic."
          + (" Lines are the median over rounds; the shaded band is the [min–max] range." if rounds > 1 else ""),
          "", "## Reading", ""]

    # Engines.
    L += ["### The engines, alone on one core", ""]
    if available(meta, "uring") and available(meta, "nginx"):
        L.append(f"`uring` against nginx, requests/s under wrk -t1 -c C: {span(ratios(rows, 'uring', 'nginx', 'wrk-conns'))}; "
                 f"CPU per request: {span(ratios(rows, 'uring', 'nginx', 'wrk-conns', 'server_cpu_us_per_req'))}.")
    if available(meta, "reactor") and available(meta, "uring"):
        L.append("")
        L.append(engine_paragraph(rows, meta, "reactor", "epoll reactor"))
    L += ["", "### Why thread-per-connection and prefork fall behind", "",
          "Both models tie a connection to a schedulable entity. With one core, a thread (or process) per "
          "connection means a context switch per request and a scheduler run queue as long as the number of "
          "connections; wake-ups are not batched, each thread's stack and kernel state costs memory and cache, "
          "and with hundreds of connections the scheduler, not the server, decides who runs. A prefork pool "
          "serves at most as many connections at once as it has processes: with keep-alive clients "
          "(ab -k, wrk) the remaining connections wait in the accept queue until a worker frees up, so "
          "throughput is capped by pool size and latency grows with concurrency. The seeds show both shapes: "
          "their thread server drops from 439 to 172 req/s as ab's concurrency rises (seed 001) and their "
          "process pool falls from 292 to 87 req/s as wrk threads rise (seed 004).", ""]
    for cfg, what in (("threads", "thread per connection"), ("prefork", "pre-forked processes")):
        L += [engine_paragraph(rows, meta, cfg, what), ""]

    # Balancer.
    L += ["### What the balancer costs or buys on a 2-core machine", ""]
    for lb_cfg, direct in (("lb+uring", "uring"), ("lb+reactor", "reactor"), ("lb+threads", "threads"),
                           ("lb+prefork", "prefork"), ("haproxy+nginx", "nginx")):
        if lb_cfg not in cfgs:
            continue
        if not available(meta, lb_cfg) or not available(meta, direct):
            L += ["", placeholder(meta, lb_cfg if not available(meta, lb_cfg) else direct), ""]
            continue
        L += [f"- `{lb_cfg}` ÷ `{direct}`: requests/s under wrk -t1 -c C {span(ratios(rows, lb_cfg, direct, 'wrk-conns'))}; "
              f"under ab {span(ratios(rows, lb_cfg, direct, 'ab'))}; server CPU per request "
              f"{span(ratios(rows, lb_cfg, direct, 'wrk-conns', 'server_cpu_us_per_req'))}."]
    if available(meta, "lb+uring") and available(meta, "haproxy+nginx"):
        L.append(f"- `lb+uring` ÷ `haproxy+nginx` (the balancers side by side, different backends): "
                 f"{span(ratios(rows, 'lb+uring', 'haproxy+nginx', 'wrk-conns'))}.")
    L += ["",
          "On this machine an L4 balancer can only cost: the client has one core, the servers the other, and "
          "the balancer and its four backends share that one core, so every request now crosses two TCP "
          "connections and the balancer's relay (receive, splice, send) on the same CPU that serves it. There "
          "is no second server core to spread over, which is what a balancer buys. The seeds' gain from the "
          "balancer (seed 001: 2868 → 1337 req/s at c=1, then about even from c=100 on, e.g. 4125 → 4329 at "
          "c=100; seed 004: 692 → 1139 req/s at -t 50) came from single-threaded Python backends that could not use the cores the balancer let "
          "four of them use; a native server that already saturates a core has nothing left to gain here. "
          "HAProxy in front of nginx is the reference for what a mature L4 proxy costs in the same place.", ""]

    # Seeds.
    L += ["### Against the seeds' numbers", ""]
    seeds_rs = []
    for cfg in cfgs:
        for r in pick(rows, cfg, "ab"):
            sp, _ = seeds.ab(cfg, int(r["concurrency"]))
            if sp and ok(r):
                seeds_rs.append((cfg, num(r["requests_per_second"]) / sp["rps"]))
    if seeds_rs:
        by = {}
        for cfg, v in seeds_rs:
            by.setdefault(cfg, []).append(v)
        for cfg, vs in by.items():
            L.append(f"- `{cfg}` ÷ the seeds' matching ab table: {min(vs):.0f}–{max(vs):.0f}× "
                     f"(median {statistics.median(vs):.0f}×).")
    L += ["",
          "The seeds measured Python servers (asyncore, threads, a process pool) on their own laptops; the "
          "ratios say how far a native engine moves the same experiment, not a like-for-like contest. Their "
          "responses were 122 bytes (HTTP/1.0, `Connection: close`); ours are the 265-byte index.html with "
          "HTTP/1.1 keep-alive, so bytes per response differ and transfer rates are not comparable as such. "
          "Seeds 002 and 003 are not set beside any point (concurrency 1–5, or target not stated).", "",
          f"The ab points are 1000 requests each, over in {ab_time_span(rows)} here: at c=1 ab's own round trip "
          "is most of what is measured, and at high concurrency connection set-up is (every client connects once "
          "for about 1000/c requests). The wrk rows beside them are the longer measurement of the same points.", "",
          "A note on the load average: it counts runnable threads, so the `threads` engine's own thousand "
          "connection threads raise it during its points; that is the model at work, not other work.", "",
          "## Left to do", ""]
    missing = sorted({r["configuration"] for r in rows if r["status"] == "unavailable"})
    if missing:
        L.append(f"- {', '.join(missing)}: unavailable in this run (see their rows for why).")
    if rounds > 1:
        L += ["- Repeat on an idle machine: rounds give ranges, but not a quiet machine (DESIGN.md).", ""]
    else:
        L += ["- Repeat the sweep on an idle machine with `make bench ROUNDS=3` (the contenders alternate; "
              "the tables then give ranges, DESIGN.md).", ""]
    with open(os.path.join(out, "REPORT.md"), "w") as fh:
        fh.write("\n".join(L))
