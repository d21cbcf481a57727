#!/usr/bin/env python3
"""Runs one example client against a fresh Concierge and checks what it printed.

    run_example.py BINARY [--http [--auth-key]] [--expect REGEX]... [--reject REGEX]... -- COMMAND [ARGS...]

A temporary data directory gets the demo week (`concierge demo`) and is the example's
CONCIERGE_DATA_DIR, so a stdio example's `BINARY serve` sees it. With --http, `BINARY serve
--http 127.0.0.1:0` is started on it first and `{url}` in the command becomes its MCP URL; the
port is read from the server's "listening on" line. With --auth-key the server runs with
`--auth keys` and the example gets a fresh API key as CONCIERGE_TOKEN. `{binary}` becomes
BINARY. Every --expect must match the example's stdout (multiline), no --reject may; the
example must exit 0.
The server is stopped (SIGTERM, then SIGKILL) and the directory removed however this ends.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading

LISTENING = re.compile(r"listening on (http://127\.0\.0\.1:\d+/mcp)")


def start_server(binary, env, log_path, extra):
    """Starts `serve --http` on port 0; returns (process, url) once its "listening on" line shows.

    A thread copies the server's stderr to log_path for as long as it runs (so it never blocks on
    a full pipe) and signals the line; a server that neither listens nor exits within 20 s is
    stopped and the test fails."""
    proc = subprocess.Popen([binary, "serve", "--http", "127.0.0.1:0", *extra], env=env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    found, ready = {}, threading.Event()

    def pump():
        with open(log_path, "w") as log:
            for line in proc.stderr:
                log.write(line)
                log.flush()
                if "url" not in found and (m := LISTENING.search(line)):
                    found["url"] = m.group(1)
                    ready.set()
        ready.set()  # EOF: the server is gone

    threading.Thread(target=pump, daemon=True).start()
    if not ready.wait(20) or "url" not in found:
        stop(proc)
        sys.exit(f"run_example: the server did not listen (exit {proc.returncode}); log: {open(log_path).read()[-2000:]}")
    return proc, found["url"]


def stop(proc):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("binary")
    parser.add_argument("--http", action="store_true")
    parser.add_argument("--auth-key", action="store_true")
    parser.add_argument("--expect", action="append", default=[])
    parser.add_argument("--reject", action="append", default=[])
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") == len(argv) - 1:
        parser.error("COMMAND: missing (after --)")
    split = argv.index("--")
    args, command = parser.parse_args(argv[:split]), argv[split + 1:]

    with tempfile.TemporaryDirectory(prefix="concierge-example-") as data:
        env = {**os.environ, "CONCIERGE_DATA_DIR": data,
               # Not the user's configuration file: the defaults.
               "CONCIERGE_CONFIG": os.path.join(data, "no-config.json"),
               # A client that drops the environment for its server never reaches the user's own
               # data either (and finds no demo week there, which the checks catch).
               "HOME": os.path.join(data, "home"), "XDG_DATA_HOME": os.path.join(data, "home"),
               # No __pycache__ left in the source tree by the Python examples' import of steps.py.
               "PYTHONDONTWRITEBYTECODE": "1"}
        subprocess.run([args.binary, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
        extra = []
        if args.auth_key:
            subprocess.run([args.binary, "users", "add", "ada"], env=env, check=True, stdout=subprocess.DEVNULL)
            env["CONCIERGE_TOKEN"] = subprocess.run([args.binary, "keys", "create", "--user", "ada"], env=env, check=True,
                                                    stdout=subprocess.PIPE, text=True).stdout.strip()
            extra = ["--auth", "keys"]
        server, url = (None, None)
        try:
            if args.http:
                server, url = start_server(args.binary, env, os.path.join(data, "server.log"), extra)
            argv = [a.replace("{url}", url or "{url}").replace("{binary}", args.binary) for a in command]
            done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, text=True, timeout=60)
        finally:
            if server:
                stop(server)
        print(done.stdout, end="")
        failures = [f"exit status {done.returncode}"] if done.returncode else []
        failures += [f"missing: {p!r}" for p in args.expect if not re.search(p, done.stdout, re.M)]
        failures += [f"unexpected: {p!r}" for p in args.reject if re.search(p, done.stdout, re.M)]
        if server and server.returncode not in (0, None):
            failures.append(f"server exit status {server.returncode}")
        for f in failures:
            print(f"run_example: FAILED: {f}", file=sys.stderr)
        if failures and args.http:
            print(open(os.path.join(data, "server.log")).read()[-3000:], file=sys.stderr)
        sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
