#!/usr/bin/env bash
# A throwaway PostgreSQL 15 (Debian's postgresql-15) for the tests and the bench, on loopback:
#   scripts/postgres.sh start DIR   initdb in DIR, start on a free port, print DATABASE_URL=...
#   scripts/postgres.sh stop DIR    stop it (fast shutdown) and leave DIR to the caller
# Trust authentication on 127.0.0.1 only, a role and a database both named concierge, the C
# locale (text sorts by bytes, as SQLite's does). When run as root the server runs as nobody
# (PostgreSQL refuses root), owning DIR.
set -euo pipefail
BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
cmd=${1:?usage: postgres.sh start|stop DIR}
dir=$(realpath -m "${2:?usage: postgres.sh start|stop DIR}")

as_owner() {
  if [ "$(id -u)" = 0 ]; then setpriv --reuid=nobody --regid=nogroup --clear-groups -- "$@"; else "$@"; fi
}

case "$cmd" in
start)
  [ -x "$BIN/initdb" ] || { echo "postgres.sh: no $BIN/initdb; run scripts/install-deps.sh" >&2; exit 1; }
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown nobody:nogroup "$dir"
  chmod 0700 "$dir"
  as_owner "$BIN/initdb" -D "$dir/data" -U concierge --auth=trust --locale=C -E UTF8 >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  # A free port: bind 0, read it, let go. Another process taking it in between makes pg_ctl
  # fail loudly, never silently share.
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  as_owner "$BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
    -o "-c listen_addresses=127.0.0.1 -c port=$port -c unix_socket_directories='$dir' -c fsync=on -c max_connections=200" start >/dev/null ||
    { cat "$dir/server.log" >&2; exit 1; }
  as_owner "$BIN/createdb" -h 127.0.0.1 -p "$port" -U concierge concierge
  echo "DATABASE_URL=postgresql://concierge@127.0.0.1:$port/concierge"
  ;;
stop)
  [ -d "$dir/data" ] || exit 0
  as_owner "$BIN/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
  ;;
*)
  echo "usage: postgres.sh start|stop DIR" >&2
  exit 2
  ;;
esac
