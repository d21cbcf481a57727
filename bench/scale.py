#!/usr/bin/env python3
"""Scale bench for the local providers (issue 6): a store with 100k events (and 100k mails when
the mail tables exist), then the calls a user makes, timed over stdio against the real binary.

  bench/scale.py [--binary build/concierge] [--events 100000] [--mails 100000] [--calls 30]

Fills a temporary data directory: `concierge demo` creates the schema and the demo data, then
rows are bulk-inserted with sqlite3 (through the providers it would take 100k fsyncs). Prints
median and p95 latency per call and writes bench/results/scale.json. Not a test: no targets.
"""
import argparse
import json
import os
import random
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

DAY = 86400000


def fill_events(db, n):
    user = db.execute("SELECT id FROM users WHERE name = 'local'").fetchone()[0]
    cals = [r[0] for r in db.execute("SELECT id FROM calendar_calendars WHERE user_id = ?", (user,))]
    now = int(time.time() * 1000)
    rnd = random.Random(6)
    words = ["Review", "Sync", "Call", "Lunch", "Planning", "Interview", "Workshop", "Dentist", "Gym", "Coffee"]
    rows = []
    series = min(200, n // 500)
    for i in range(n):
        start = now - 900 * DAY + rnd.randrange(1800 * DAY // 900000) * 900000  # 5 years, quarter hours
        length = rnd.choice([15, 30, 45, 60, 90, 120]) * 60000
        rrule = "FREQ=WEEKLY" if i < series else None
        rows.append((f"bench{i:07d}", user, rnd.choice(cals), f"{rnd.choice(words)} #{i}", start, start + length,
                     "Europe/Berlin", rrule, 0, now, now))
    db.executemany("INSERT INTO calendar_events (uid, user_id, calendar_id, summary, start_ms, end_ms, time_zone, rrule, "
                   "is_long, created_ms, updated_ms) VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)
    db.commit()
    return series


class Stdio:
    def __init__(self, binary, data):
        self.p = subprocess.Popen([binary, "--log-level", "warn", "--data-dir", data, "serve"], stdin=subprocess.PIPE,
                                  stdout=subprocess.PIPE, text=True, bufsize=1)
        self.id = 0
        self.request("initialize", {"protocolVersion": "2025-11-25", "capabilities": {},
                                    "clientInfo": {"name": "scale-bench", "version": "1"}})
        self.p.stdin.write(json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"}) + "\n")

    def request(self, method, params):
        self.id += 1
        self.p.stdin.write(json.dumps({"jsonrpc": "2.0", "id": self.id, "method": method, "params": params}) + "\n")
        while True:
            reply = json.loads(self.p.stdout.readline())
            if reply.get("id") == self.id:
                return reply

    def tool(self, name, args):
        t0 = time.perf_counter()
        r = self.request("tools/call", {"name": name, "arguments": args})
        dt = (time.perf_counter() - t0) * 1000
        res = r.get("result", {})
        if "error" in r or res.get("isError"):
            raise SystemExit(f"{name} failed: {json.dumps(r)[:400]}")
        return dt, res.get("structuredContent", {})

    def close(self):
        self.p.stdin.close()
        self.p.wait(timeout=10)


def measure(s, name, args_of, calls):
    times, sizes = [], []
    for i in range(calls):
        dt, out = s.tool(name, args_of(i))
        times.append(dt)
        sizes.append(out)
    times.sort()
    return {"median_ms": round(statistics.median(times), 2), "p95_ms": round(times[int(0.95 * (len(times) - 1))], 2),
            "calls": calls}, sizes


def main():
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    ap = argparse.ArgumentParser()
    ap.add_argument("--binary", default=os.path.join(root, "build", "concierge"))
    ap.add_argument("--events", type=int, default=100000)
    ap.add_argument("--mails", type=int, default=100000)
    ap.add_argument("--calls", type=int, default=30)
    ap.add_argument("--out", default=os.path.join(root, "bench", "results", "scale.json"))
    a = ap.parse_args()
    results = {}
    with tempfile.TemporaryDirectory(prefix="concierge-scale-") as data:
        subprocess.run([a.binary, "--log-level", "warn", "--data-dir", data, "demo"], check=True, stdout=subprocess.DEVNULL)
        db = sqlite3.connect(os.path.join(data, "concierge.db"))
        t0 = time.time()
        series = fill_events(db, a.events)
        results["fill"] = {"events": a.events, "series": series, "seconds": round(time.time() - t0, 1)}
        import mail_fill  # noqa: E402  (bench/mail_fill.py: the mail tables' bulk fill)
        if a.mails and mail_fill.available(db):
            t0 = time.time()
            mail_fill.fill(db, a.mails)
            results["fill"].update({"mails": a.mails, "mail_seconds": round(time.time() - t0, 1)})
        db.execute("ANALYZE")
        db.close()
        s = Stdio(a.binary, data)
        s.tool("preferences_update", {"time_zone": "Europe/Berlin"})
        base = time.time()
        day = lambda i: time.strftime("%Y-%m-%d", time.gmtime(base + (i % 20 - 10) * 86400))
        day_after = lambda i: time.strftime("%Y-%m-%d", time.gmtime(base + (i % 20 - 9) * 86400))
        week_after = lambda i: time.strftime("%Y-%m-%d", time.gmtime(base + (i % 20 - 3) * 86400))
        results["calendar_list_events (a day)"], outs = measure(
            s, "calendar_list_events", lambda i: {"start": day(i), "end": day_after(i), "max_results": 250}, a.calls)
        results["calendar_list_events (a day)"]["events_per_day"] = round(statistics.mean(len(o["events"]) for o in outs), 1)
        results["calendar_find_free_time (a week)"], _ = measure(
            s, "calendar_find_free_time", lambda i: {"start": day(i), "end": week_after(i), "duration_minutes": 30,
                                                     "within_working_hours": False}, a.calls)
        if "mails" in results["fill"]:
            for q in mail_fill.QUERIES:
                results[f"mail_search {q!r}"], _ = measure(s, "mail_search", lambda i, q=q: {"query": q, "max_results": 20}, a.calls)
        s.close()
    os.makedirs(os.path.dirname(a.out), exist_ok=True)
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
    width = max(len(k) for k in results)
    print(f"{'fill':<{width}}  {results['fill']}")
    for k, v in results.items():
        if k != "fill":
            print(f"{k:<{width}}  median {v['median_ms']:8.2f} ms  p95 {v['p95_ms']:8.2f} ms" +
                  (f"  ({v['events_per_day']} events/day)" if "events_per_day" in v else ""))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    main()
