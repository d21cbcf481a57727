#!/usr/bin/env python3
"""Times an MCP server over stdio, for bench/run.sh.

  stdio_bench.py CALLS [--label NAME] -- COMMAND [ARGS...]

Spawns COMMAND, writes `initialize` (2025-06-18) at once and times spawn -> initialize reply, sends
notifications/initialized, then makes CALLS sequential `tools/call echo` round trips (each reply
checked). Before closing stdin it reads the server's peak RSS (VmHWM) and CPU time from /proc.
Prints one JSON object: init_ms, calls, calls_per_s, p50_us, p99_us, peak_rss_kb, cpu_us_per_call,
exit_code, exit_ms (stdin EOF -> exit); with --label, a readable summary on stderr too.
Exits 1 if the server misbehaves.
"""
import json
import os
import subprocess
import sys
import time


def proc_cpu_s(pid):
    """CPU time of the process so far: the sum of its threads' run time in ns from schedstat when
    the kernel has it (clock ticks are too coarse for a few thousand fast calls), else utime+stime."""
    try:
        total = 0
        for tid in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{tid}/schedstat") as f:
                total += int(f.read().split()[0])
        return total / 1e9
    except (OSError, ValueError, IndexError):
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def proc_status_kb(pid, key):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    return 0


def main():
    if "--" not in sys.argv:
        sys.exit(__doc__)
    calls = int(sys.argv[1])
    opts = sys.argv[2:sys.argv.index("--")]
    label = opts[opts.index("--label") + 1] if "--label" in opts else None
    cmd = sys.argv[sys.argv.index("--") + 1:]

    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    out = p.stdout

    def send(msg):
        p.stdin.write((json.dumps(msg, separators=(",", ":")) + "\n").encode())
        p.stdin.flush()

    def reply(rid):
        while True:
            line = out.readline()
            if not line:
                sys.exit(f"stdio_bench: {cmd[0]} closed stdout (exit {p.poll()})")
            m = json.loads(line)
            if m.get("id") == rid:
                return m

    send({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
        "protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "concierge-bench", "version": "1"}}})
    init = reply(0)
    init_s = time.perf_counter() - t0
    if "result" not in init:
        sys.exit(f"stdio_bench: initialize failed: {init}")
    send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    cpu0 = proc_cpu_s(p.pid)
    lat = []
    start = time.perf_counter()
    for i in range(1, calls + 1):
        a = time.perf_counter()
        send({"jsonrpc": "2.0", "id": i, "method": "tools/call",
              "params": {"name": "echo", "arguments": {"text": "hello"}}})
        m = reply(i)
        lat.append(time.perf_counter() - a)
        try:
            ok = m["result"]["content"][0]["text"] == "hello"
        except (KeyError, IndexError, TypeError):
            ok = False
        if not ok:
            sys.exit(f"stdio_bench: unexpected reply to call {i}: {m}")
    total = time.perf_counter() - start
    cpu1 = proc_cpu_s(p.pid)
    peak = proc_status_kb(p.pid, "VmHWM")

    e0 = time.perf_counter()
    p.stdin.close()
    try:
        code = p.wait(timeout=10)
    except subprocess.TimeoutExpired:
        p.kill()
        code = p.wait()
    exit_ms = (time.perf_counter() - e0) * 1000

    lat.sort()
    pct = lambda q: lat[min(len(lat) - 1, int(len(lat) * q))] * 1e6  # noqa: E731
    result = {
        "init_ms": round(init_s * 1000, 2),
        "calls": calls,
        "calls_per_s": round(calls / total, 1),
        "p50_us": round(pct(0.50), 1),
        "p99_us": round(pct(0.99), 1),
        "peak_rss_kb": peak,
        "cpu_us_per_call": round((cpu1 - cpu0) * 1e6 / calls, 2),
        "exit_code": code,
        "exit_ms": round(exit_ms, 1),
    }
    print(json.dumps(result))
    if label:
        r = result
        print(f"   stdio {label:<5} spawn->initialize {r['init_ms']:7.1f} ms  {r['calls_per_s']:>8.0f} calls/s"
              f"  p50 {r['p50_us']:6.0f} us  p99 {r['p99_us']:6.0f} us  cpu {r['cpu_us_per_call']:6.1f} us/call"
              f"  peak RSS {r['peak_rss_kb'] / 1024:.1f} MB", file=sys.stderr)
    if code != 0:
        sys.exit(f"stdio_bench: {cmd[0]} exited {code}")


if __name__ == "__main__":
    main()
