#!/usr/bin/env python3
"""Turns bench/run.sh's records into the printed table, the ratios, the targets and the JSON file.

  report.py --records FILE --out FILE [--smoke] [--binary PATH] [--peer-dir DIR] [--nginx PATH]
            [--log NAME=FILE]... [--started EPOCH] [--config KEY=VALUE...]

Exit status: 0, or 1 when a measurement could not be taken or a server misbehaved (non-2xx replies,
socket errors, streams that did not open or were dropped, errors in its log) in a --smoke run. A
full run reports such problems but never fails on them, nor on a missed target.
"""
import argparse
import datetime
import json
import os
import platform
import re
import statistics
import subprocess
import sys
import time

TARGET_NAMES = {"ours": "Concierge", "bare": "Concierge --no-history", "jwt": "Concierge --auth issuer (JWT)", "hdr": "Concierge, the JWT sent but unused", "peer": "TS SDK peer", "nginx": "nginx (fixed 200)"}


def cell_figures(rec):
    w = rec["wrk"]
    secs = w["duration_us"] / 1e6
    n = w["requests"]
    return {
        "requests": n,
        "req_s": n / secs if secs > 0 else 0.0,
        "p50_ms": w["latency_us"]["p50"] / 1000,
        "p99_ms": w["latency_us"]["p99"] / 1000,
        "p999_ms": w["latency_us"]["p999"] / 1000,
        "max_ms": w["latency_us"]["max"] / 1000,
        "cpu_us_per_call": (rec["cpu_ticks"] / rec["clk_tck"] * 1e6 / n) if n else None,
        "rss_kb": rec["rss_kb"],
        "errors": w["errors"],
    }


def med(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def ratio(a, b):
    return a / b if a is not None and b else None


def run(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=10)
        return (p.stdout + p.stderr).strip().splitlines()[0] if (p.stdout + p.stderr).strip() else ""
    except (OSError, subprocess.SubprocessError):
        return ""


def machine():
    model = ""
    mem_kb = 0
    try:
        with open("/proc/cpuinfo") as f:
            model = next((l.split(":", 1)[1].strip() for l in f if l.startswith("model name")), "")
        with open("/proc/meminfo") as f:
            mem_kb = int(next(l.split()[1] for l in f if l.startswith("MemTotal")))
    except (OSError, StopIteration):
        pass
    return {"cpus": os.cpu_count(), "cpu_model": model, "mem_gb": round(mem_kb / 1048576, 1),
            "kernel": platform.release(), "os": platform.platform(), "loadavg_end": os.getloadavg()}


def versions(a):
    v = {"concierge": run([a.binary, "--version"]) if a.binary else "", "node": run(["node", "--version"]),
         "wrk": run(["wrk", "-v"]).split(" [")[0]}
    try:
        with open(os.path.join(a.peer_dir, "node_modules/@modelcontextprotocol/sdk/package.json")) as f:
            v["mcp_sdk"] = json.load(f)["version"]
    except (OSError, ValueError, KeyError, TypeError):
        v["mcp_sdk"] = ""
    if a.nginx:
        v["nginx"] = run([a.nginx, "-v"])
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    commit = run(["git", "-C", root, "rev-parse", "--short", "HEAD"])
    dirty = run(["git", "-C", root, "status", "--porcelain", "--untracked-files=no"])
    v["git"] = commit + ("+dirty" if dirty else "")
    return v


def log_problems(name, path):
    """Error lines a server logged during the run (Concierge: spdlog [error]/[critical])."""
    try:
        with open(path, errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return [], 0
    if name in ("ours", "bare", "jwt"):
        bad = [l for l in lines if re.search(r"\[(error|critical)\]", l)]
        warn = sum(1 for l in lines if "[warning]" in l or "[warn]" in l)
    elif name == "nginx":
        bad = [l for l in lines if re.search(r"\[(error|crit|alert|emerg)\]", l)]
        warn = sum(1 for l in lines if "[warn]" in l)
    else:
        bad = [l for l in lines if "error" in l.lower()]
        warn = 0
    return bad, warn


def fmt(v, spec, none="-"):
    return none if v is None else format(v, spec)


def times(v, spec):
    return "-" if v is None else format(v, spec) + "x"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--records")
    ap.add_argument("--out")
    ap.add_argument("--smoke", action="store_true")
    ap.add_argument("--binary", default="")
    ap.add_argument("--peer-dir", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "peer"))
    ap.add_argument("--nginx", default="")
    ap.add_argument("--log", action="append", default=[])
    ap.add_argument("--started", type=float, default=time.time())
    ap.add_argument("--config", nargs="*", default=[])
    a = ap.parse_args()

    with open(a.records) as f:
        records = [json.loads(l) for l in f if l.strip()]
    config = {k: int(v) if v.isdigit() else v for k, v in (kv.split("=", 1) for kv in a.config)}
    focus = int(config.get("focus_conns", 16))
    nstreams = int(config.get("streams", 0))
    problems = []  # (fatal_in_smoke, text)

    # ---- HTTP cells ----
    cells = [r for r in records if r["type"] == "cell"]
    for r in cells:
        f = cell_figures(r)
        where = f"{r['phase']} r{r['round']} {r['target']} {r['mode']} c{r['conns']}"
        if f["requests"] == 0:
            problems.append((True, f"{where}: no request completed"))
        e = f["errors"]
        if e["status"]:
            problems.append((True, f"{where}: {e['status']} non-2xx replies of {f['requests']}"))
        sock = {k: e[k] for k in ("connect", "read", "write", "timeout") if e[k]}
        if sock:
            problems.append((True, f"{where}: socket errors {sock}"))

    def group(phase, target, mode, conns):
        rows = [cell_figures(r) for r in cells if r["phase"] == phase and r["target"] == target
                and r["mode"] == mode and r["conns"] == conns]
        if not rows:
            return None
        return {
            "req_s": med([x["req_s"] for x in rows]),
            "p50_ms": med([x["p50_ms"] for x in rows]),
            "p99_ms": med([x["p99_ms"] for x in rows]),
            "cpu_us_per_call": med([x["cpu_us_per_call"] for x in rows]),
            "rounds": rows,
        }

    conns_list = sorted({r["conns"] for r in cells if r["phase"] == "main"})
    http = {}
    for mode in ("stateless", "session"):
        http[mode] = {}
        for c in conns_list:
            e = {t: group("main", t, mode, c) for t in ("ours", "bare", "jwt", "hdr", "peer", "nginx")}
            e = {t: v for t, v in e.items() if v}
            if not e:
                continue
            o = e.get("ours", {}).get("req_s")
            e["ours_over_peer"] = ratio(o, e.get("peer", {}).get("req_s"))
            e["ours_over_bare"] = ratio(o, e.get("bare", {}).get("req_s")) if "bare" in e else None
            e["jwt_over_ours"] = ratio(e.get("jwt", {}).get("req_s"), o) if "jwt" in e else None
            e["jwt_over_hdr"] = ratio(e.get("jwt", {}).get("req_s"), e.get("hdr", {}).get("req_s")) if "jwt" in e and "hdr" in e else None
            e["ours_over_nginx"] = ratio(o, e.get("nginx", {}).get("req_s")) if "nginx" in e else None
            if "nginx" not in e:  # session rows are compared with the same nginx ceiling
                n = group("main", "nginx", "stateless", c)
                e["ours_over_nginx"] = ratio(o, n["req_s"]) if n else None
            http[mode][str(c)] = e

    # ---- stdio ----
    stdio = {}
    for t in ("ours", "peer"):
        rows = [r["result"] for r in records if r["type"] == "stdio" and r["target"] == t]
        if not rows:
            continue
        stdio[t] = {k: med([x[k] for x in rows]) for k in
                    ("init_ms", "calls_per_s", "p50_us", "p99_us", "peak_rss_kb", "cpu_us_per_call", "exit_ms")}
        stdio[t]["rounds"] = rows
        for x in rows:
            if x.get("exit_code"):
                problems.append((True, f"stdio {t}: exited {x['exit_code']} at EOF"))

    # ---- RSS ----
    rss = {}
    for r in records:
        if r["type"] == "rss":
            rss.setdefault(r["target"], {})[r["when"]] = {"rss_kb": r["rss_kb"], "hwm_kb": r["hwm_kb"], "threads": r["threads"]}
    peak = {t: v.get("end", v.get("main", {})).get("hwm_kb") for t, v in rss.items()}

    # ---- streams ----
    streams = {}
    for r in records:
        if r["type"] != "streams":
            continue
        key = f"{r['target']}_{r['kind']}"
        phase = "streams" if r["kind"] == "legacy" else "listen"
        with_ = group(phase, r["target"], "stateless", focus)
        without = (http.get("stateless", {}).get(str(focus), {}).get(r["target"]) or {}).get("req_s")
        streams[key] = dict(r, conns=focus, req_s_with=with_["req_s"] if with_ else None,
                            p99_ms_with=with_["p99_ms"] if with_ else None, req_s_without=without,
                            kept=ratio(with_["req_s"] if with_ else None, without))
        del streams[key]["type"]
        if r["opened"] < r["wanted"]:
            problems.append((True, f"{r['target']}: only {r['opened']} of {r['wanted']} {r['kind']} streams opened"))
        if r["still_open_at_end"] < r["opened"]:
            problems.append((True, f"{r['target']}: {r['opened'] - r['still_open_at_end']} of {r['opened']} "
                                   f"{r['kind']} streams were closed by the server during the run"))

    # ---- logs ----
    logs = {}
    for spec in a.log:
        name, path = spec.split("=", 1)
        bad, warns = log_problems(name, path)
        logs[name] = {"error_lines": len(bad), "warning_lines": warns, "first_errors": bad[:5]}
        if bad:
            problems.append((name in ("ours", "bare", "jwt"), f"{name} logged {len(bad)} error line(s), first: {bad[0][:200]}"))

    # ---- targets ----
    def http_at(mode, t, k="req_s"):
        return ((http.get(mode, {}).get(str(focus)) or {}).get(t) or {}).get(k)

    targets = []

    def target(name, value, goal, ok, shown):
        targets.append({"target": name, "value": value, "goal": goal,
                        "pass": None if value is None else bool(ok(value)), "shown": shown})

    for mode in ("stateless", "session"):
        r = ratio(http_at(mode, "ours"), http_at(mode, "peer"))
        target(f"HTTP req/s ours/peer, {mode}, {focus} conns", r, ">= 15", lambda v: v >= 15, times(r, ".1f"))
    for mode in ("stateless", "session"):
        r = ratio(http_at(mode, "ours"), http_at("stateless", "nginx"))
        target(f"HTTP req/s ours/nginx, {mode}, {focus} conns", r, ">= 0.5", lambda v: v >= 0.5, times(r, ".2f"))
    for mode in ("stateless", "session"):
        p = http_at(mode, "ours", "p99_ms")
        target(f"HTTP p99 ours, {mode}, {focus} conns", p, "<= 2 ms", lambda v: v <= 2, fmt(p, ".2f") + " ms")
    for mode in ("stateless", "session"):
        r = ratio(http_at(mode, "ours"), http_at(mode, "bare"))
        target(f"HTTP req/s recording history / not, {mode}, {focus} conns", r, ">= 0.9 (issue 5)", lambda v: v >= 0.9,
               fmt(r * 100 if r is not None else None, ".0f") + " %")
    for mode in ("stateless", "session"):
        r = ratio(http_at(mode, "jwt"), http_at(mode, "ours"))
        target(f"HTTP req/s with a JWT on every request / none, {mode}, {focus} conns", r, ">= 0.9 (issue 16)",
               lambda v: v >= 0.9, fmt(r * 100 if r is not None else None, ".0f") + " %")
    r = ratio(stdio.get("ours", {}).get("init_ms"), stdio.get("peer", {}).get("init_ms"))
    target("stdio spawn->initialize ours/peer", r, "<= 1/20 (0.05)", lambda v: v <= 0.05,
           fmt(r, ".3f") + (f" (1/{1 / r:.0f})" if r else ""))
    r = ratio(peak.get("ours"), peak.get("peer"))
    target("peak RSS ours/peer (HTTP server, whole run)", r, "<= 1/8 (0.125)", lambda v: v <= 0.125,
           fmt(r, ".3f") + (f" (1/{1 / r:.1f})" if r else ""))
    for kind in ("legacy", "listen"):
        k = (streams.get(f"ours_{kind}") or {}).get("kept")
        target(f"req/s kept with {nstreams} {kind} streams open, ours", k, ">= 80 %", lambda v: v >= 0.8,
               fmt(k * 100 if k is not None else None, ".0f") + " %")

    # ---- print ----
    mode_name = "SMOKE run (figures not meaningful, no targets)" if a.smoke else "full run"
    print()
    print(f"Concierge vs the TypeScript SDK peer - {mode_name}: {config.get('rounds')} round(s) x "
          f"{config.get('secs')} s per cell, medians over alternating rounds")
    hdr = (f"{'HTTP tools/call echo':<22}{'conns':>5} | {'ours req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'us/call':>7}"
           f" | {'peer req/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'us/call':>7} | {'nginx req/s':>11} {'p99 ms':>7}"
           f" | {'ours/peer':>9} {'ours/nginx':>10}")
    print(hdr)
    print("-" * len(hdr))
    labels = {"stateless": "stateless (ours 2026)", "session": "legacy session"}
    for mode in ("stateless", "session"):
        for c, e in http.get(mode, {}).items():
            o, p, n = e.get("ours") or {}, e.get("peer") or {}, e.get("nginx") or {}
            print(f"{labels[mode]:<22}{c:>5} | {fmt(o.get('req_s'), '10.0f'):>10} {fmt(o.get('p50_ms'), '7.2f'):>7}"
                  f" {fmt(o.get('p99_ms'), '7.2f'):>7} {fmt(o.get('cpu_us_per_call'), '7.1f'):>7}"
                  f" | {fmt(p.get('req_s'), '10.0f'):>10} {fmt(p.get('p50_ms'), '7.2f'):>7}"
                  f" {fmt(p.get('p99_ms'), '7.2f'):>7} {fmt(p.get('cpu_us_per_call'), '7.1f'):>7}"
                  f" | {fmt(n.get('req_s'), '11.0f'):>11} {fmt(n.get('p99_ms'), '7.2f'):>7}"
                  f" | {times(e.get('ours_over_peer'), '.1f'):>9} {times(e.get('ours_over_nginx'), '.2f'):>10}")
    for mode in ("stateless", "session"):
        e = http.get(mode, {}).get(str(focus)) or {}
        b = e.get("bare") or {}
        if b:
            print(f"{'  ' + mode + ' --no-history':<22}{focus:>5} | {fmt(b.get('req_s'), '10.0f'):>10} {fmt(b.get('p50_ms'), '7.2f'):>7}"
                  f" {fmt(b.get('p99_ms'), '7.2f'):>7} {fmt(b.get('cpu_us_per_call'), '7.1f'):>7}"
                  f" | history recording keeps {fmt(e['ours_over_bare'] * 100 if e.get('ours_over_bare') else None, '.0f')} %")
        j = e.get("jwt") or {}
        if j:
            print(f"{'  ' + mode + ' with a JWT':<22}{focus:>5} | {fmt(j.get('req_s'), '10.0f'):>10} {fmt(j.get('p50_ms'), '7.2f'):>7}"
                  f" {fmt(j.get('p99_ms'), '7.2f'):>7} {fmt(j.get('cpu_us_per_call'), '7.1f'):>7}"
                  f" | a JWT on every request keeps {fmt(e['jwt_over_ours'] * 100 if e.get('jwt_over_ours') else None, '.0f')} %"
                  f" (verifying it, the bytes apart: {fmt(e['jwt_over_hdr'] * 100 if e.get('jwt_over_hdr') else None, '.0f')} %)")
    print()
    print(f"{'stdio':<22} | {'spawn->init ms':>14} {'calls/s':>9} {'p50 us':>8} {'p99 us':>8} {'peak RSS MB':>11} {'us/call':>8}")
    for t in ("ours", "peer"):
        s = stdio.get(t)
        if s:
            print(f"{TARGET_NAMES[t]:<22} | {s['init_ms']:14.1f} {s['calls_per_s']:9.0f} {s['p50_us']:8.0f} {s['p99_us']:8.0f}"
                  f" {s['peak_rss_kb'] / 1024:11.1f} {s['cpu_us_per_call']:8.1f}")
    if stdio.get("ours") and stdio.get("peer"):
        print(f"{'ours/peer':<22} | {fmt(ratio(stdio['ours']['init_ms'], stdio['peer']['init_ms']), '14.3f')}"
              f" {fmt(ratio(stdio['ours']['calls_per_s'], stdio['peer']['calls_per_s']), '9.1f')}")
    print()
    print(f"{'HTTP server memory':<22} | {'peak RSS MB':>11} {'threads':>8} | streams: kind {'open s':>7} {'RSS MB':>7}"
          f" {'threads':>8} {'req/s with':>10} {'without':>8} {'kept':>6} {'p99 ms':>7}")
    for t in ("ours", "peer", "nginx"):
        if t not in rss:
            continue
        end = rss[t].get("end", rss[t].get("main", {}))
        first = True
        for key, s in streams.items():
            if not key.startswith(t + "_"):
                continue
            lead = f"{TARGET_NAMES[t]:<22} | {end.get('hwm_kb', 0) / 1024:11.1f} {rss[t].get('main', {}).get('threads', 0):8d}" \
                if first else f"{'':<22} | {'':>11} {'':>8}"
            first = False
            print(f"{lead} | {s['opened']:>5} {s['kind']:<6} {s['open_s']:7.1f} {s['rss_kb'] / 1024:7.1f} {s['threads']:8d}"
                  f" {fmt(s['req_s_with'], '10.0f'):>10} {fmt(s['req_s_without'], '8.0f'):>8}"
                  f" {fmt(s['kept'] * 100 if s['kept'] is not None else None, '5.0f') + '%':>6} {fmt(s['p99_ms_with'], '7.2f'):>7}")
        if first:
            print(f"{TARGET_NAMES[t]:<22} | {end.get('hwm_kb', 0) / 1024:11.1f} {rss[t].get('main', {}).get('threads', 0):8d} |")
    if peak.get("ours") and peak.get("peer"):
        print(f"{'ours/peer':<22} | {peak['ours'] / peak['peer']:11.3f}")

    if not a.smoke:
        print()
        print("Targets (issue 4; reported, never fatal):")
        for t in targets:
            state = "n/a " if t["pass"] is None else ("PASS" if t["pass"] else "MISS")
            print(f"  {state}  {t['target']:<52} {t['shown']:>16}   goal {t['goal']}")

    fatal = [text for f, text in problems if f]
    if problems:
        print()
        print("Problems:")
        for f, text in problems:
            print(f"  {'!' if f else '-'} {text}")

    m = machine()
    v = versions(a)
    print()
    print(f"machine: {m['cpus']} x {m['cpu_model']}, {m['mem_gb']} GB, Linux {m['kernel']}, load {m['loadavg_end'][0]:.2f} at the end;"
          f" concierge {v['concierge']} ({v['git']}), @modelcontextprotocol/sdk {v['mcp_sdk']} on node {v['node']},"
          f" {v['wrk']}{', ' + v['nginx'] if v.get('nginx') else ''}")

    result = {
        "schema": 1,
        "kind": "smoke" if a.smoke else "full",
        "started": datetime.datetime.fromtimestamp(a.started, datetime.timezone.utc).isoformat(timespec="seconds"),
        "duration_s": round(time.time() - a.started, 1),
        "machine": m,
        "versions": v,
        "config": config,
        "http": http,
        "stdio": stdio,
        "rss_kb": rss,
        "streams": streams,
        "targets": [{k: t[k] for k in ("target", "value", "goal", "pass")} for t in targets] if not a.smoke else [],
        "logs": logs,
        "problems": [text for _, text in problems],
        "records": records,
    }
    os.makedirs(os.path.dirname(os.path.abspath(a.out)), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(result, f, indent=1)
        f.write("\n")
    print(f"figures written to {a.out} ({result['duration_s']:.0f} s)")

    if a.smoke:
        if fatal:
            print(f"bench smoke: FAILED ({len(fatal)} problem(s))")
            return 1
        print("bench smoke: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
