#!/usr/bin/env python3
"""Concierge over stdio with the standard library only.

    python3 stdio_client.py BINARY [SERVER ARGS...]

Spawns `BINARY serve` (or BINARY with the given arguments), then: initialize (2025-11-25
handshake), notifications/initialized, tools/list (one line per tool, following pages),
tools/call calendar_list_events (steps.py). Messages are newline-delimited JSON-RPC on stdin/stdout;
the server logs on stderr, which is passed through.
"""
import json
import subprocess
import sys

from steps import list_events, list_tools

PROTOCOL_VERSION = "2025-11-25"


class StdioClient:
    def __init__(self, argv):
        self.proc = subprocess.Popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, encoding="utf-8")
        self.next_id = 1

    def send(self, message):
        self.proc.stdin.write(json.dumps(message) + "\n")
        self.proc.stdin.flush()

    def request(self, method, params=None):
        """Sends a request and returns its result; an error reply raises."""
        request_id = self.next_id
        self.next_id += 1
        self.send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params or {}})
        for line in self.proc.stdout:
            message = json.loads(line)
            if message.get("id") != request_id or "method" in message:
                continue  # a notification (log, progress) or a server request: not ours to answer here
            if "error" in message:
                raise RuntimeError(f"{method}: error {message['error']['code']}: {message['error']['message']}")
            return message["result"]
        raise RuntimeError(f"{method}: the server closed stdout (exit {self.proc.wait()})")

    def close(self):
        self.proc.stdin.close()  # EOF: the server finishes and exits 0
        return self.proc.wait(timeout=10)


def main():
    if len(sys.argv) < 2:
        sys.exit("usage: stdio_client.py BINARY [SERVER ARGS...]  (default SERVER ARGS: serve)")
    client = StdioClient([sys.argv[1], *(sys.argv[2:] or ["serve"])])

    init = client.request("initialize", {
        "protocolVersion": PROTOCOL_VERSION,
        "capabilities": {},
        "clientInfo": {"name": "concierge-example-python-stdio", "version": "1.0.0"},
    })
    info = init["serverInfo"]
    print(f"server: {info['name']} {info['version']} (protocol {init['protocolVersion']})")
    client.send({"jsonrpc": "2.0", "method": "notifications/initialized"})

    list_tools(client.request)
    list_events(client.request)
    print(f"exit: {client.close()}")


if __name__ == "__main__":
    main()
