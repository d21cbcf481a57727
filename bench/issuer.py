#!/usr/bin/env python3
"""A minimal OAuth issuer for bench/run.sh: RFC 8414 metadata and a JWKS on 127.0.0.1, and RS256
access tokens minted with the openssl command line (standard library only: the bench needs no
npm authorization server to put a JWT on every request).

usage: issuer.py DIR     serves on a free port, prints "ready PORT" once listening;
                         GET /mint?aud=URL&scope=S returns a token for that audience (1 h).
"""
import base64
import json
import os
import subprocess
import sys
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def main():
    workdir = sys.argv[1]
    os.makedirs(workdir, exist_ok=True)
    key = os.path.join(workdir, "issuer-key.pem")
    subprocess.run(["openssl", "genpkey", "-algorithm", "RSA", "-pkeyopt", "rsa_keygen_bits:2048", "-out", key],
                   check=True, capture_output=True)
    modulus = subprocess.run(["openssl", "rsa", "-in", key, "-noout", "-modulus"], check=True,
                             capture_output=True, text=True).stdout.strip().split("=", 1)[1]
    jwk = {"kty": "RSA", "kid": "bench", "use": "sig", "alg": "RS256",
           "n": b64url(bytes.fromhex(modulus)), "e": b64url((65537).to_bytes(3, "big"))}

    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    issuer = f"http://127.0.0.1:{server.server_address[1]}"

    def mint(aud: str, scope: str) -> str:
        now = int(time.time())
        header = b64url(json.dumps({"alg": "RS256", "typ": "at+jwt", "kid": "bench"}).encode())
        claims = b64url(json.dumps({"iss": issuer, "sub": "bench", "aud": aud, "scope": scope,
                                    "iat": now, "exp": now + 3600, "client_id": "bench"}).encode())
        signed = subprocess.run(["openssl", "dgst", "-sha256", "-sign", key], input=f"{header}.{claims}".encode(),
                                check=True, capture_output=True).stdout
        return f"{header}.{claims}.{b64url(signed)}"

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def reply(self, status, body, ctype="application/json"):
            data = body.encode()
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def do_GET(self):
            url = urllib.parse.urlparse(self.path)
            q = urllib.parse.parse_qs(url.query)
            if url.path == "/.well-known/oauth-authorization-server":
                self.reply(200, json.dumps({"issuer": issuer, "jwks_uri": issuer + "/jwks",
                                            "authorization_endpoint": issuer + "/authorize",
                                            "token_endpoint": issuer + "/token",
                                            "response_types_supported": ["code"]}))
            elif url.path == "/jwks":
                self.reply(200, json.dumps({"keys": [jwk]}))
            elif url.path == "/mint" and "aud" in q:
                self.reply(200, mint(q["aud"][0], q.get("scope", [""])[0]), "text/plain")
            else:
                self.reply(404, "{}")

    server.RequestHandlerClass = Handler
    print(f"ready {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
