#!/usr/bin/env python3
"""Checks the client configuration snippets in examples/clients/config/ against a running server.

    check_configs.py BINARY URL      (CONCIERGE_TOKEN: an API key that URL's server accepts)

Run by run_example.py --http --auth-key. Each file must parse as JSON. A stdio entry is
launched as it says (its command, the snippets' /usr/bin/concierge, replaced by BINARY) and must
complete an initialize and exit 0 on EOF. An HTTP entry's URL (its 127.0.0.1:8080 replaced by
the server's address) and headers (the key's placeholder replaced by CONCIERGE_TOKEN) must
complete an initialize; without its Authorization header the same request must be refused,
so the header is what lets it in. One `ok CLIENT ENTRY TRANSPORT` line each.
"""
import json
import os
import re
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

CONFIG = Path(__file__).resolve().parent.parent / "config"
SNIPPET_BINARY = "/usr/bin/concierge"
SNIPPET_ORIGIN = "http://127.0.0.1:8080"
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "config-check", "version": "1.0.0"}}}


def fail(message):
    sys.exit(f"check_configs: {message}")


def check_stdio(where, entry, binary):
    if entry.get("command") != SNIPPET_BINARY:
        fail(f"{where}: command: expected {SNIPPET_BINARY}, got {entry.get('command')!r}")
    proc = subprocess.run([binary, *entry.get("args", [])], input=json.dumps(INITIALIZE) + "\n",
                          env={**os.environ, **entry.get("env", {})}, capture_output=True, text=True, timeout=30)
    reply = json.loads(proc.stdout.splitlines()[0]) if proc.stdout else {}
    name = reply.get("result", {}).get("serverInfo", {}).get("name")
    if name != "concierge" or proc.returncode != 0:
        fail(f"{where}: initialize over stdio: exit {proc.returncode}, reply {proc.stdout[:300]!r}")
    print(f"ok {where} stdio: initialize answered by {name}")


def post_initialize(url, headers):
    request = urllib.request.Request(url, json.dumps(INITIALIZE).encode(), {
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers})
    try:
        with urllib.request.urlopen(request, timeout=30) as res:
            return res.status, res.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def check_http(where, url, headers, server_url, token, placeholder):
    if not url.startswith(SNIPPET_ORIGIN + "/mcp"):
        fail(f"{where}: url: expected {SNIPPET_ORIGIN}/mcp, got {url!r}")
    auth = headers.get("Authorization", "")
    if auth != f"Bearer {placeholder}":
        fail(f"{where}: headers: expected Authorization: Bearer {placeholder}, got {auth!r}")
    url = server_url.rsplit("/mcp", 1)[0] + url[len(SNIPPET_ORIGIN):]
    headers = {**headers, "Authorization": auth.replace(placeholder, token)}
    status, body = post_initialize(url, headers)
    if status != 200 or '"serverInfo"' not in body:
        fail(f"{where}: initialize over HTTP with its headers: HTTP {status}: {body[:300]}")
    refused, _ = post_initialize(url, {k: v for k, v in headers.items() if k != "Authorization"})
    if refused != 401:
        fail(f"{where}: without Authorization the server answered {refused}, not 401: the check proves nothing")
    print(f"ok {where} http: initialize with its Authorization header, 401 without")


def main():
    if len(sys.argv) != 3 or not os.environ.get("CONCIERGE_TOKEN"):
        fail("usage: CONCIERGE_TOKEN=KEY check_configs.py BINARY URL")
    binary, server_url, token = sys.argv[1], sys.argv[2], os.environ["CONCIERGE_TOKEN"]
    load = lambda name: json.loads((CONFIG / name).read_text())  # noqa: E731  (a parse error fails the test)

    claude = load("claude-desktop/claude_desktop_config.json")["mcpServers"]
    check_stdio("claude-desktop concierge", claude["concierge"], binary)
    # The bridge (mcp-remote, pinned) takes the URL and `--header Name:${VAR}` from its arguments.
    remote = load("claude-desktop/claude_desktop_config.http.json")["mcpServers"]["concierge-remote"]
    args = remote["args"]
    if not any(re.fullmatch(r"mcp-remote@\d+\.\d+\.\d+", a) for a in args):
        fail(f"claude-desktop concierge-remote: args: no pinned mcp-remote@VERSION in {args}")
    url = next(a for a in args if "://" in a)
    name, _, value = args[args.index("--header") + 1].partition(":")
    value = re.sub(r"\$\{(\w+)\}", lambda m: remote["env"][m.group(1)], value)
    check_http("claude-desktop concierge-remote", url, {name: value}, server_url, token, "YOUR_CONCIERGE_API_KEY")

    vscode = load("vscode/mcp.json")
    inputs = {i["id"]: i for i in vscode["inputs"]}
    if not inputs.get("concierge-api-key", {}).get("password"):
        fail("vscode: inputs: concierge-api-key must be a password prompt")
    for name, entry in vscode["servers"].items():
        if entry["type"] == "stdio":
            check_stdio(f"vscode {name}", entry, binary)
        elif entry["type"] == "http":
            check_http(f"vscode {name}", entry["url"], entry["headers"], server_url, token, "${input:concierge-api-key}")
        else:
            fail(f"vscode {name}: type: expected stdio or http, got {entry['type']!r}")

    for name, entry in load("cursor/mcp.json")["mcpServers"].items():
        if "command" in entry:
            check_stdio(f"cursor {name}", entry, binary)
        else:
            check_http(f"cursor {name}", entry["url"], entry["headers"], server_url, token, "${env:CONCIERGE_API_KEY}")


if __name__ == "__main__":
    main()
