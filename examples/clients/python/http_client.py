#!/usr/bin/env python3
"""Concierge over HTTP, revision 2026-07-28 (stateless), with the standard library only.

    python3 http_client.py URL          e.g. http://127.0.0.1:8080/mcp
    CONCIERGE_TOKEN=KEY python3 http_client.py URL    (a server with --auth: an API key)

Each request stands alone: no initialize, no session. It carries the protocol version and the
client's capabilities in params._meta, and headers mirroring the body (MCP-Protocol-Version,
Mcp-Method, and Mcp-Name for tools/call, resources/read and prompts/get) so proxies can route
without parsing JSON. Sends server/discover, tools/list (one line per tool, following pages),
then tools/call calendar_list_events (steps.py).
"""
import json
import os
import sys
import urllib.error
import urllib.parse
import urllib.request

from steps import list_events, list_tools

PROTOCOL_VERSION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
    "io.modelcontextprotocol/clientCapabilities": {},
    "io.modelcontextprotocol/clientInfo": {"name": "concierge-example-python-http", "version": "1.0.0"},
}
NAME_FIELDS = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}


def post(url, method, params, request_id):
    params = {**params, "_meta": META}
    headers = {
        "Content-Type": "application/json",
        "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": PROTOCOL_VERSION,
        "Mcp-Method": method,
    }
    if method in NAME_FIELDS:
        # Plain ASCII here; other values would need the spec's "=?base64?...?=" form.
        headers["Mcp-Name"] = params[NAME_FIELDS[method]]
    if os.environ.get("CONCIERGE_TOKEN"):
        headers["Authorization"] = "Bearer " + os.environ["CONCIERGE_TOKEN"]
    body = json.dumps({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}).encode()
    try:
        with urllib.request.urlopen(urllib.request.Request(url, body, headers), timeout=30) as res:
            text = res.read().decode()
            streamed = res.headers.get_content_type() == "text/event-stream"
    except urllib.error.HTTPError as e:
        sys.exit(f"{method}: HTTP {e.code}: {e.read().decode()[:300]}")
    # A reply is JSON, or an SSE stream (progress or log messages first) ending with the reply.
    messages = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip()] \
        if streamed else [json.loads(text)]
    reply = next((m for m in messages if m.get("id") == request_id), None)
    if reply is None:
        sys.exit(f"{method}: no reply in the response")
    if "error" in reply:
        sys.exit(f"{method}: error {reply['error']['code']}: {reply['error']['message']}")
    return reply["result"]


def main():
    if len(sys.argv) != 2 or not urllib.parse.urlsplit(sys.argv[1]).scheme.startswith("http"):
        sys.exit("usage: http_client.py URL  (the server's MCP endpoint, e.g. http://127.0.0.1:8080/mcp)")
    url = sys.argv[1]

    discovered = post(url, "server/discover", {}, 1)
    info = discovered["_meta"]["io.modelcontextprotocol/serverInfo"]
    print(f"server: {info['name']} {info['version']} (versions {', '.join(discovered['supportedVersions'])})")

    ids = iter(range(2, sys.maxsize))
    request = lambda method, params: post(url, method, params, next(ids))  # noqa: E731
    list_tools(request)
    list_events(request)


if __name__ == "__main__":
    main()
