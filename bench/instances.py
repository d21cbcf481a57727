#!/usr/bin/env python3
"""Instances bench (issue 19): one Concierge instance against two, SQLite against PostgreSQL,
side by side in one run, under the same wrk load (2026-07-28 stateless `tools/call`; every call
recorded in the shared history).

  bench/instances.py [--binary build/concierge] [--rounds 3] [--duration 3] [--conns 16] [--smoke]

Rows, each a cell per round (the cells of a round run back to back, so drift hits them alike):
  direct        one instance on SQLite, wrk straight at it (echo)
  nginx-1       one instance behind Debian's nginx with deploy/nginx/concierge.conf (echo)
  nginx-2       two instances on one data directory behind the same configuration (echo)
  pg-direct     one instance on PostgreSQL (a server of the run's own, scripts/postgres.sh) (echo)
  pg-nginx-2    two instances on PostgreSQL, a data directory each, behind nginx (echo)
  read, pg-read     calendar_list_events: a read of the store per call, SQLite / PostgreSQL
  write, pg-write   preferences_update: a write transaction per call, SQLite / PostgreSQL
Reports req/s, p50/p99 and the instances' CPU per call (all instances' user+system time over
the calls answered; PostgreSQL's own processes are not counted), and the ratios; writes
bench/results/instances.json. wrk, nginx, PostgreSQL and the instances share the machine's
cores: on 2 cores a second instance has no core of its own, which the ratios show rather than hide.
Not a test: no targets (bench_instances_smoke only checks that it runs).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(ROOT, "tests", "scale"))
from cluster import Cluster, stateless, text_of  # noqa: E402  (the scale tests' cluster, as users deploy it)

CLK_TCK = os.sysconf("SC_CLK_TCK")


def cpu_ticks(pid):
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


ECHO = ("echo", {"text": "hello"})
READ = ("calendar_list_events", {"max_results": 10})
WRITE = ("preferences_update", {"time_zone": "Europe/Paris"})


def run_wrk(url, conns, secs, pids, call=ECHO):
    with tempfile.NamedTemporaryFile("r", suffix=".json") as res:
        env = dict(os.environ, BENCH_KIND="modern", BENCH_RESULT=res.name, BENCH_SESSIONS="", BENCH_TOKEN="",
                   BENCH_TOOL=call[0], BENCH_ARGS=json.dumps(call[1]))
        before = sum(cpu_ticks(p) for p in pids)
        out = subprocess.run(["wrk", f"-t{min(2, conns)}", f"-c{conns}", f"-d{secs}s", "--timeout", "5s", "--latency",
                              "-s", os.path.join(HERE, "wrk", "mcp.lua"), url], env=env, capture_output=True, text=True)
        after = sum(cpu_ticks(p) for p in pids)
        line = res.read().splitlines()[:1]
    if out.returncode != 0 or not line:
        sys.exit(f"wrk failed against {url}:\n{out.stdout}\n{out.stderr}")
    w = json.loads(line[0])
    errors = sum(w["errors"].values())
    lat = w["latency_us"]
    return {"rps": w["requests"] / (w["duration_us"] / 1e6), "p50_ms": lat["p50"] / 1000, "p99_ms": lat["p99"] / 1000,
            "cpu_us_per_call": (after - before) / CLK_TCK * 1e6 / max(1, w["requests"]), "errors": errors}


def check(url, call):
    r = stateless(url, "tools/call", {"name": call[0], "arguments": call[1]})
    if not r.result or r.result.get("isError") or (call == ECHO and text_of(r.result) != "hello"):
        sys.exit(f"{call[0]} failed at {url}: {r.message}")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(ROOT, "build", "concierge"))
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=int, default=3)
    ap.add_argument("--conns", type=int, default=16)
    ap.add_argument("--smoke", action="store_true", help="1 round x 1 s, 4 connections; no results file")
    a = ap.parse_args()
    if a.smoke:
        a.rounds, a.duration, a.conns = 1, 1, 4

    clusters = {}
    try:
        clusters["one"] = Cluster(a.binary, names=("a",))
        clusters["two"] = Cluster(a.binary, names=("a", "b"))
        clusters["pg-one"] = Cluster(a.binary, names=("a",), postgres=True)
        clusters["pg-two"] = Cluster(a.binary, names=("a", "b"), postgres=True)

        def inst(c):
            return clusters[c].instances["a"]

        def pids(c):
            return [i.proc.pid for i in clusters[c].instances.values()]

        targets = {
            "direct": (inst("one").url, pids("one"), ECHO),
            "nginx-1": (clusters["one"].url, pids("one"), ECHO),
            "nginx-2": (clusters["two"].url, pids("two"), ECHO),
            "pg-direct": (inst("pg-one").url, pids("pg-one"), ECHO),
            "pg-nginx-2": (clusters["pg-two"].url, pids("pg-two"), ECHO),
            "read": (inst("one").url, pids("one"), READ),
            "pg-read": (inst("pg-one").url, pids("pg-one"), READ),
            "write": (inst("one").url, pids("one"), WRITE),
            "pg-write": (inst("pg-one").url, pids("pg-one"), WRITE),
        }
        for url, _, call in targets.values():
            check(url, call)
        cells = {name: [] for name in targets}
        print(f"instances bench: {a.rounds} round(s) x {a.duration}s, {a.conns} connections, {os.cpu_count()} cores; "
              f"load {open('/proc/loadavg').read().split()[:3]}")
        for r in range(1, a.rounds + 1):
            for name, (url, ps, call) in targets.items():
                c = run_wrk(url, a.conns, a.duration, ps, call)
                cells[name].append(c)
                print(f"  r{r} {name:10} {c['rps']:9.0f} req/s  p50 {c['p50_ms']:6.2f} ms  p99 {c['p99_ms']:6.2f} ms  "
                      f"cpu {c['cpu_us_per_call']:5.0f} us/call{'  ERRORS ' + str(c['errors']) if c['errors'] else ''}")
    finally:
        for c in clusters.values():
            c.stop()

    med = {n: {k: statistics.median(c[k] for c in cs) for k in ("rps", "p50_ms", "p99_ms", "cpu_us_per_call")} for n, cs in cells.items()}
    ratios = {"nginx-2 / nginx-1 (req/s)": med["nginx-2"]["rps"] / med["nginx-1"]["rps"],
              "nginx-1 / direct (req/s)": med["nginx-1"]["rps"] / med["direct"]["rps"],
              "pg-direct / direct (echo, req/s)": med["pg-direct"]["rps"] / med["direct"]["rps"],
              "pg-nginx-2 / nginx-2 (req/s)": med["pg-nginx-2"]["rps"] / med["nginx-2"]["rps"],
              "pg-read / read (req/s)": med["pg-read"]["rps"] / med["read"]["rps"],
              "pg-write / write (req/s)": med["pg-write"]["rps"] / med["write"]["rps"]}
    print("medians:")
    for n, m in med.items():
        print(f"  {n:10} {m['rps']:9.0f} req/s  p50 {m['p50_ms']:6.2f} ms  p99 {m['p99_ms']:6.2f} ms  cpu {m['cpu_us_per_call']:5.0f} us/call")
    for k, v in ratios.items():
        print(f"  {k}: {v:.2f}")
    if any(c["errors"] for cs in cells.values() for c in cs):
        sys.exit("errors during the run")
    if not a.smoke:
        os.makedirs(os.path.join(HERE, "results"), exist_ok=True)
        with open(os.path.join(HERE, "results", "instances.json"), "w") as f:
            json.dump({"config": vars(a), "cores": os.cpu_count(), "cells": cells, "medians": med, "ratios": ratios}, f, indent=2)


if __name__ == "__main__":
    main()
