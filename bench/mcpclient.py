#!/usr/bin/env python3
"""Small MCP-over-HTTP client for bench/run.sh (standard library only).

  mcpclient.py check URL KIND [SESSION]   one `tools/call echo` of the kind the wrk script sends
                                          (modern | stateless | session); exits 1 unless the
                                          reply is 200 with the echoed text
  mcpclient.py sessions URL N             opens N legacy (2025-06-18) sessions: initialize, then
                                          notifications/initialized; prints the ids, comma-separated
  mcpclient.py prepare URL KIND N         check URL KIND, then sessions URL N, then check URL session
                                          on the first of them; prints the ids (one start for all)
  mcpclient.py hold URL N [--kind legacy|listen] [--concurrency C]
                                          opens N SSE streams on loopback and keeps them open:
                                          legacy = a session each (initialize) and its GET /mcp
                                          stream; listen = a 2026-07-28 `subscriptions/listen` POST
                                          each. Prints `ready OPENED FAILED SECONDS` once done, then
                                          holds them (draining whatever arrives) until SIGTERM
                                          or SIGINT; prints `closed STILL_OPEN` then.
"""
import asyncio
import http.client
import json
import os
import resource
import signal
import sys
import time
import urllib.parse

LEGACY = "2025-06-18"
MODERN = "2026-07-28"
ACCEPT = "application/json, text/event-stream"


def echo_body(kind, rid=1):
    params = {"name": "echo", "arguments": {"text": "hello"}}
    if kind == "modern":
        params["_meta"] = {"io.modelcontextprotocol/protocolVersion": MODERN,
                           "io.modelcontextprotocol/clientCapabilities": {}}
    return json.dumps({"jsonrpc": "2.0", "id": rid, "method": "tools/call", "params": params})


def echo_headers(kind, session=None):
    h = {"Content-Type": "application/json", "Accept": ACCEPT}
    h.update(AUTH)
    if kind == "modern":
        h.update({"MCP-Protocol-Version": MODERN, "Mcp-Method": "tools/call", "Mcp-Name": "echo"})
    else:
        h["MCP-Protocol-Version"] = LEGACY
    if kind == "session":
        h["Mcp-Session-Id"] = session
    return h


# A bearer token on every request (the JWT row of bench/run.sh): BENCH_TOKEN.
AUTH = {"Authorization": "Bearer " + os.environ["BENCH_TOKEN"]} if os.environ.get("BENCH_TOKEN") else {}

INIT_BODY = json.dumps({"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": {
    "protocolVersion": LEGACY, "capabilities": {}, "clientInfo": {"name": "concierge-bench", "version": "1"}}})
INITIALIZED_BODY = json.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})


def split(url):
    u = urllib.parse.urlsplit(url)
    return u.hostname, u.port or 80, u.path or "/"


def post(url, body, headers, timeout=10):
    host, port, path = split(url)
    c = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        c.request("POST", path, body=body, headers=headers)
        r = c.getresponse()
        return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read().decode("utf-8", "replace")
    finally:
        c.close()


def reply_json(ctype, text):
    """The JSON-RPC message of a reply, whether sent as JSON or as an SSE stream."""
    if "text/event-stream" in (ctype or ""):
        for line in text.splitlines():
            if line.startswith("data:"):
                try:
                    m = json.loads(line[5:])
                except ValueError:
                    continue
                if "result" in m or "error" in m:
                    return m
        return None
    return json.loads(text)


def check(url, kind, session=None):
    status, hdrs, text = post(url, echo_body(kind), echo_headers(kind, session))
    if status != 200:
        sys.exit(f"check {kind} {url}: HTTP {status}: {text[:300]}")
    m = reply_json(hdrs.get("content-type"), text)
    try:
        ok = m["result"]["content"][0]["text"] == "hello"
    except (TypeError, KeyError, IndexError):
        ok = False
    if not ok:
        sys.exit(f"check {kind} {url}: unexpected reply: {text[:300]}")


def open_session(url):
    status, hdrs, text = post(url, INIT_BODY, {"Content-Type": "application/json", "Accept": ACCEPT, **AUTH})
    sid = hdrs.get("mcp-session-id")
    if status != 200 or not sid:
        raise RuntimeError(f"initialize: HTTP {status}, session {sid!r}: {text[:300]}")
    h = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": sid, **AUTH}
    status, _, text = post(url, INITIALIZED_BODY, h)
    if status not in (200, 202):
        raise RuntimeError(f"notifications/initialized: HTTP {status}: {text[:300]}")
    return sid


# --- holding many streams open (asyncio, raw HTTP/1.1) ---------------------------------------

async def http_exchange(host, port, head, body=b"", keep=False):
    """Sends one request; returns (status, headers, reader, writer) once the head has arrived."""
    reader, writer = await asyncio.open_connection(host, port)
    writer.write(head.encode() + body)
    await writer.drain()
    status_line = await reader.readline()
    parts = status_line.decode("latin-1").split(" ", 2)
    if len(parts) < 2:
        writer.close()
        raise RuntimeError(f"bad status line {status_line!r}")
    status = int(parts[1])
    headers = {}
    while True:
        line = await reader.readline()
        if line in (b"\r\n", b"\n", b""):
            break
        k, _, v = line.decode("latin-1").partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, reader, writer


async def read_body(headers, reader):
    if "content-length" in headers:
        return await reader.readexactly(int(headers["content-length"]))
    if headers.get("transfer-encoding", "").lower() == "chunked":
        out = b""
        while True:
            size = int((await reader.readline()).split(b";")[0], 16)
            if size == 0:
                await reader.readline()
                return out
            out += await reader.readexactly(size)
            await reader.readline()
    return b""


def request_head(method, host, port, path, headers, body=b""):
    lines = [f"{method} {path} HTTP/1.1", f"Host: {host}:{port}"]
    lines += [f"{k}: {v}" for k, v in headers.items()]
    if method == "POST":
        lines.append(f"Content-Length: {len(body)}")
    return "\r\n".join(lines) + "\r\n\r\n"


async def simple_post(host, port, path, headers, body):
    b = body.encode()
    h = dict(headers, Connection="close")
    status, hdrs, reader, writer = await http_exchange(host, port, request_head("POST", host, port, path, h, b), b)
    try:
        data = await read_body(hdrs, reader)
    finally:
        writer.close()
    return status, hdrs, data


async def open_legacy_stream(host, port, path):
    status, hdrs, data = await simple_post(host, port, path, {"Content-Type": "application/json", "Accept": ACCEPT}, INIT_BODY)
    sid = hdrs.get("mcp-session-id")
    if status != 200 or not sid:
        raise RuntimeError(f"initialize: HTTP {status}: {data[:200]!r}")
    sh = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": sid}
    status, _, data = await simple_post(host, port, path, sh, INITIALIZED_BODY)
    if status not in (200, 202):
        raise RuntimeError(f"notifications/initialized: HTTP {status}: {data[:200]!r}")
    gh = {"Accept": "text/event-stream", "MCP-Protocol-Version": LEGACY, "Mcp-Session-Id": sid}
    status, hdrs, reader, writer = await http_exchange(host, port, request_head("GET", host, port, path, gh))
    if status != 200 or "text/event-stream" not in hdrs.get("content-type", ""):
        writer.close()
        raise RuntimeError(f"GET stream: HTTP {status} {hdrs.get('content-type')}")
    return reader, writer


async def open_listen_stream(host, port, path):
    body = json.dumps({"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen", "params": {
        "notifications": {"toolsListChanged": True},
        "_meta": {"io.modelcontextprotocol/protocolVersion": MODERN, "io.modelcontextprotocol/clientCapabilities": {}}}}).encode()
    h = {"Content-Type": "application/json", "Accept": ACCEPT, "MCP-Protocol-Version": MODERN,
         "Mcp-Method": "subscriptions/listen"}
    status, hdrs, reader, writer = await http_exchange(host, port, request_head("POST", host, port, path, h, body), body)
    if status != 200 or "text/event-stream" not in hdrs.get("content-type", ""):
        writer.close()
        raise RuntimeError(f"subscriptions/listen: HTTP {status} {hdrs.get('content-type')}")
    # The acknowledgement is the first frame: wait for it so the stream is known to be live.
    while True:
        line = await asyncio.wait_for(reader.readline(), 10)
        if not line:
            writer.close()
            raise RuntimeError("subscriptions/listen: stream ended before the acknowledgement")
        if b"subscriptions/acknowledged" in line:
            return reader, writer


async def drain(reader, alive):
    try:
        while await reader.read(65536):
            pass
    except (ConnectionError, asyncio.CancelledError):
        pass
    alive[0] -= 1


async def hold(url, n, kind, concurrency):
    host, port, path = split(url)
    opener = open_legacy_stream if kind == "legacy" else open_listen_stream
    sem = asyncio.Semaphore(concurrency)
    writers, tasks, errors, alive = [], [], [], [0]

    async def one():
        async with sem:
            try:
                reader, writer = await asyncio.wait_for(opener(host, port, path), 30)
            except Exception as e:  # noqa: BLE001 - reported, counted as a failed stream
                errors.append(f"{type(e).__name__}: {e}")
                return
            writers.append(writer)
            alive[0] += 1
            tasks.append(asyncio.ensure_future(drain(reader, alive)))

    t0 = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(n)))
    print(f"ready {len(writers)} {len(errors)} {time.perf_counter() - t0:.2f}", flush=True)
    for e in sorted(set(errors))[:5]:
        print(f"error {e}", file=sys.stderr, flush=True)

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    print(f"closed {alive[0]}", flush=True)
    for w in writers:
        w.close()
    for t in tasks:
        t.cancel()


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    cmd, url = argv[1], argv[2]
    if cmd == "check":
        check(url, argv[3], argv[4] if len(argv) > 4 else None)
    elif cmd == "sessions":
        print(",".join(open_session(url) for _ in range(int(argv[3]))))
    elif cmd == "prepare":
        check(url, argv[3])
        ids = [open_session(url) for _ in range(int(argv[4]))]
        check(url, "session", ids[0])
        print(",".join(ids))
    elif cmd == "hold":
        n = int(argv[3])
        opts = dict(zip(argv[4::2], argv[5::2]))
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        want = min(hard, max(soft, 2 * n + 64)) if hard != resource.RLIM_INFINITY else max(soft, 2 * n + 64)
        resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))
        asyncio.run(hold(url, n, opts.get("--kind", "legacy"), int(opts.get("--concurrency", "8"))))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
