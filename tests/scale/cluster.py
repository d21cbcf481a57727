"""Several Concierge instances on one data directory behind nginx, as deploy/ describes them.

A Cluster starts N instances of a server binary (each on a free loopback port it reports
itself), then Debian's nginx with deploy/nginx/concierge.conf, its ports rewritten to the
instances' and the balancer's, so the configuration under test is the one users install.
Everything lives in a temporary directory and is stopped on exit.
"""
import http.client
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
NGINX_CONF = os.path.join(ROOT, "deploy", "nginx", "concierge.conf")
DEPLOY_PORTS = {"a": 8701, "b": 8702}  # as the committed file has them
DEPLOY_LISTEN = 8700
PORT_LINE = r"listening on http://[^:]+:(\d+)/mcp"

PROTOCOL_VERSION = "2026-07-28"
META = {
    "io.modelcontextprotocol/protocolVersion": PROTOCOL_VERSION,
    "io.modelcontextprotocol/clientCapabilities": {"elicitation": {}},
    "io.modelcontextprotocol/clientInfo": {"name": "concierge-scale-test", "version": "1.0.0"},
}


def fail(message):
    print("FAIL: " + message, file=sys.stderr)
    sys.exit(1)


def free_port():
    # nginx cannot report a port it picked itself: take one the kernel hands out, then release it.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_postgres(directory):
    """A PostgreSQL of the test's own (scripts/postgres.sh): its URL."""
    out = subprocess.run(["bash", os.path.join(ROOT, "scripts", "postgres.sh"), "start", directory], capture_output=True, text=True, timeout=120)
    if out.returncode != 0:
        fail("scripts/postgres.sh start: " + out.stderr)
    return next(line.split("=", 1)[1] for line in out.stdout.splitlines() if line.startswith("DATABASE_URL="))


def wait_until(what, predicate, timeout=20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    fail("timed out waiting for " + what)


class Instance:
    def __init__(self, name, argv, env, log_path, port_pattern):
        self.name = name
        self.log_path = log_path
        self.log = open(log_path, "wb")
        self.proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.port = None
        # The port line comes on stdout (the conformance fixture) or stderr (concierge's log):
        # both streams are read as they come and copied to the log.
        pattern = re.compile(port_pattern.encode())
        reported = threading.Event()
        lock = threading.Lock()
        ended = []

        def scan(stream):
            for line in stream:
                with lock:
                    self.log.write(line)
                    self.log.flush()
                m = pattern.search(line)
                if m and self.port is None:
                    self.port = int(m.group(1))
                    reported.set()
            with lock:
                ended.append(stream)
                if len(ended) == 2:
                    reported.set()  # both streams ended: the process is gone

        self.readers = [threading.Thread(target=scan, args=(s,), daemon=True) for s in (self.proc.stdout, self.proc.stderr)]
        for t in self.readers:
            t.start()
        if not reported.wait(20):
            fail(f"timed out waiting for instance {name} to report its port")
        if self.port is None:
            self.proc.wait(timeout=10)
            fail(f"instance {name} exited ({self.proc.returncode}); its log:\n" + open(log_path, errors="replace").read())

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/mcp"

    def kill(self, sig=signal.SIGKILL):
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        self.proc.wait(timeout=30)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for t in self.readers:
            t.join(timeout=10)  # the streams end with the process
        self.log.close()
        return self.proc.returncode


class Cluster:
    """kind: "concierge" (the binary, `serve --http 127.0.0.1:0 --instance NAME` on one data
    directory) or "fixture" (tests/conformance's conformance-server, sharing a requestState key).

    postgres=True: as on several machines instead. A PostgreSQL 15 of the cluster's own
    (scripts/postgres.sh) is the database (`--database`), each instance has a data directory of
    its own, and they share only the requestState key (`--state-key-file`)."""

    def __init__(self, binary, kind="concierge", names=("a", "b"), extra_args=(), postgres=False):
        self.tmp = tempfile.mkdtemp(prefix="concierge-scale-")
        self.data = os.path.join(self.tmp, "data")
        self.database = None
        self.instances = {}
        self.argv = {}
        self.nginx = None
        try:
            shared, serve_shared = [], []
            if postgres:
                # As root the server runs as nobody (scripts/postgres.sh), who must pass through.
                os.chmod(self.tmp, 0o711)
                self.database = start_postgres(os.path.join(self.tmp, "pg"))
                key = os.path.join(self.tmp, "state.key")
                with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "w") as f:
                    f.write(os.urandom(32).hex() + "\n")
                shared, serve_shared = ["--database", self.database], ["--state-key-file", key]
            for i, name in enumerate(names):
                env = dict(os.environ, HOME=self.tmp, XDG_DATA_HOME=os.path.join(self.tmp, "xdg"), XDG_CONFIG_HOME=os.path.join(self.tmp, "xdg"))
                env.pop("CONCIERGE_DATA_DIR", None)
                env.pop("CONCIERGE_CONFIG", None)
                env.pop("CONCIERGE_DATABASE_URL", None)
                log = os.path.join(self.tmp, f"{name}.log")
                if kind == "concierge":
                    # The first instance fills the demo week; the others find it there.
                    data = self.data_of(name)
                    argv = [binary, "--data-dir", data, *shared, "serve", "--http", "127.0.0.1:0", "--instance", name,
                            *serve_shared, *(["--demo"] if i == 0 else []), *extra_args]
                    self.argv[name] = (argv, env)
                    self.instances[name] = Instance(name, argv, env, log, PORT_LINE)
                else:
                    env["CONFORMANCE_INSTANCE"] = name
                    env["CONFORMANCE_STATE_KEY"] = "k" * 48
                    self.instances[name] = Instance(name, [binary], env, log, r"^PORT (\d+)")
            self.port = free_port()
            self._start_nginx()
        except BaseException:
            self.stop()
            raise

    def data_of(self, name):
        """The instance's data directory: the shared one, or its own on PostgreSQL."""
        return os.path.join(self.tmp, "data-" + name) if self.database else self.data

    def restart(self, name):
        """Starts a stopped (killed) instance again on its data directory, as systemd would."""
        argv, env = self.argv[name]
        self.instances[name].stop()
        log = os.path.join(self.tmp, f"{name}-restarted.log")
        self.instances[name] = Instance(name, [a for a in argv if a != "--demo"], env, log, PORT_LINE)
        return self.instances[name]

    def sql(self, query):
        """Rows of a query on the cluster's database (SQLite file or PostgreSQL), as tuples of text."""
        if self.database:
            out = subprocess.run(["psql", self.database, "-X", "-A", "-t", "-F", "\x1f", "-c", query], capture_output=True, text=True, timeout=30)
            if out.returncode != 0:
                fail("psql: " + out.stderr)
            return [tuple(line.split("\x1f")) for line in out.stdout.splitlines() if line]
        import sqlite3
        con = sqlite3.connect(f"file:{os.path.join(self.data, 'concierge.db')}?mode=ro", uri=True, timeout=10)
        try:
            return [tuple("" if v is None else str(v) for v in row) for row in con.execute(query).fetchall()]
        finally:
            con.close()

    def _start_nginx(self):
        text = open(NGINX_CONF).read()
        first = next(iter(self.instances.values()))
        for name, deploy_port in DEPLOY_PORTS.items():
            # An instance not started (a cluster of one) stands in for by the first one.
            port = self.instances[name].port if name in self.instances else first.port
            text = text.replace(f"127.0.0.1:{deploy_port}", f"127.0.0.1:{port}")
        text = text.replace(f"listen {DEPLOY_LISTEN};", f"listen 127.0.0.1:{self.port};")
        ngx = os.path.join(self.tmp, "nginx")
        os.makedirs(os.path.join(ngx, "tmp"))
        with open(os.path.join(ngx, "concierge.conf"), "w") as f:
            f.write(text)
        t = os.path.join(ngx, "tmp")
        with open(os.path.join(ngx, "nginx.conf"), "w") as f:
            # As root, workers would run as nobody and could not use this private directory.
            user = "user root;\n" if os.geteuid() == 0 else ""
            f.write(f"""daemon off;
{user}worker_processes 1;
pid {ngx}/nginx.pid;
error_log {ngx}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log {ngx}/access.log;
    client_body_temp_path {t}/body;
    proxy_temp_path {t}/proxy;
    fastcgi_temp_path {t}/fastcgi;
    uwsgi_temp_path {t}/uwsgi;
    scgi_temp_path {t}/scgi;
    include {ngx}/concierge.conf;
}}
""")
        nginx = shutil.which("nginx") or "/usr/sbin/nginx"
        check = subprocess.run([nginx, "-t", "-p", ngx, "-e", f"{ngx}/error.log", "-c", f"{ngx}/nginx.conf"], capture_output=True, text=True)
        if check.returncode != 0:
            fail("nginx refused the configuration:\n" + check.stderr)
        self.nginx = subprocess.Popen([nginx, "-p", ngx, "-e", f"{ngx}/error.log", "-c", f"{ngx}/nginx.conf"],
                                      stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)

        def accepting():
            if self.nginx.poll() is not None:
                fail("nginx exited: " + self.nginx.stderr.read().decode(errors="replace"))
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return True
            except OSError:
                return False

        wait_until("nginx to listen", accepting)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}/mcp"

    def stop(self):
        codes = {}
        if self.nginx and self.nginx.poll() is None:
            self.nginx.send_signal(signal.SIGQUIT)
            try:
                self.nginx.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.nginx.kill()
                self.nginx.wait()
        for name, inst in self.instances.items():
            codes[name] = inst.stop()
        if self.database:
            subprocess.run(["bash", os.path.join(ROOT, "scripts", "postgres.sh"), "stop", os.path.join(self.tmp, "pg")], timeout=60)
        if os.environ.get("SCALE_KEEP"):
            print("kept", self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return codes

    def logs(self):
        out = []
        for name, inst in self.instances.items():
            out.append(f"--- instance {name} ---\n" + open(inst.log_path, errors="replace").read()[-4000:])
        err = os.path.join(self.tmp, "nginx", "error.log")
        if os.path.exists(err):
            out.append("--- nginx ---\n" + open(err, errors="replace").read()[-2000:])
        return "\n".join(out)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is not None and exc[0] is not SystemExit:
            print(self.logs(), file=sys.stderr)
        self.stop()


class Reply:
    def __init__(self, status, message, headers):
        self.status = status
        self.message = message  # the JSON-RPC reply, or None
        self.headers = headers

    @property
    def result(self):
        return (self.message or {}).get("result")

    @property
    def error(self):
        return (self.message or {}).get("error")


def post(url, body, headers=None, timeout=30):
    """One POST; the JSON-RPC reply whether it came as JSON or as the last SSE event."""
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **(headers or {})}
    req = urllib.request.Request(url, json.dumps(body).encode(), h)
    try:
        with urllib.request.urlopen(req, timeout=timeout) as res:
            status, text, headers_in = res.status, res.read().decode(), res.headers
            ctype = res.headers.get_content_type()
    except urllib.error.HTTPError as e:
        status, text, headers_in, ctype = e.code, e.read().decode(errors="replace"), e.headers, e.headers.get_content_type()
    except (OSError, http.client.HTTPException) as e:
        # The connection went (a killed instance): no reply at all.
        return Reply(0, {"transport_error": repr(e)}, {})
    message = None
    if ctype == "text/event-stream":
        events = [json.loads(line[5:]) for line in text.splitlines() if line.startswith("data:") and line[5:].strip()]
        message = next((m for m in events if "id" in m and ("result" in m or "error" in m)), None)
    elif text.strip():
        try:
            message = json.loads(text)
        except ValueError:
            message = None
    return Reply(status, message, headers_in)


def stateless(url, method, params, request_id=1, timeout=30):
    """A 2026-07-28 request: no session, its version and capabilities in _meta and the headers."""
    names = {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
    params = {**params, "_meta": META}
    headers = {"MCP-Protocol-Version": PROTOCOL_VERSION, "Mcp-Method": method}
    if method in names:
        headers["Mcp-Name"] = params[names[method]]
    return post(url, {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}, headers, timeout)


def text_of(result):
    return "".join(c.get("text", "") for c in (result or {}).get("content", []))
