#!/usr/bin/env bash
# The Debian package as a user gets it: built by scripts/package.sh from this build, unpacked
# into a temporary root (dpkg-deb -x), and the unpacked files checked and run.
#   tests/package/check_deb.sh SOURCE_DIR BUILD_DIR VERSION
set -euo pipefail
src=$1 build=$2 version=$3
tmp=$(mktemp -d)
trap '[ -z "${server:-}" ] || kill "$server" 2>/dev/null || true; rm -rf "$tmp"' EXIT
fail() { echo "check_deb: $*" >&2; exit 1; }

deb=$(bash "$src/scripts/package.sh" "$build" "$tmp/out")
[ "$(basename "$deb")" = "concierge_${version}_$(dpkg --print-architecture).deb" ] || fail "unexpected package name $deb"

# The contents: the binary, both units, the man page, all owned by root.
dpkg-deb -c "$deb" > "$tmp/contents"
for f in ./usr/bin/concierge ./usr/lib/systemd/system/concierge.service ./usr/lib/systemd/system/concierge@.service \
         ./usr/lib/systemd/user/concierge.service \
         ./usr/share/man/man1/concierge.1.gz; do
  grep -q " $f\$" "$tmp/contents" || { cat "$tmp/contents" >&2; fail "dpkg-deb -c lists no $f"; }
done
if awk '{print $2}' "$tmp/contents" | grep -v '^root/root$'; then fail "files not owned by root/root"; fi

# The control fields: dpkg-shlibdeps' Depends (libc6 at least, and the libraries it links).
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version is not $version"
[ "$(dpkg-deb -f "$deb" Section)" = "net" ] || fail "Section is not net"
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libsqlite3 libcurl4 libsodium; do
  [[ "$depends" == *"$lib"* ]] || fail "Depends lacks $lib: $depends"
done

dpkg-deb -x "$deb" "$tmp/root"
bin=$tmp/root/usr/bin/concierge

# Stripped: no debug information left in the packaged binary.
if readelf -S "$bin" | grep -q '\.debug_info'; then fail "the packaged binary is not stripped"; fi

out=$("$bin" --version)
[ "$out" = "concierge $version" ] || fail "--version printed '$out', not 'concierge $version'"

# A stdio initialize: one JSON-RPC line in, the reply out; the server exits at end of input.
export CONCIERGE_CONFIG=$tmp/no-config.json
echo '{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"check_deb","version":"1"}}}' \
  | timeout 30 "$bin" --data-dir "$tmp/data" serve > "$tmp/reply" 2> "$tmp/stderr" || { cat "$tmp/stderr" >&2; fail "serve over stdio failed"; }
python3 - "$tmp/reply" "$version" <<'PY' || { cat "$tmp/reply" "$tmp/stderr" >&2; fail "no initialize result"; }
import json, sys
lines = [l for l in open(sys.argv[1]) if l.strip()]
assert len(lines) == 1, lines
reply = json.loads(lines[0])
assert reply["id"] == 1, reply
r = reply["result"]
assert r["protocolVersion"] == "2025-06-18", r
assert r["serverInfo"]["name"] == "concierge" and r["serverInfo"]["version"] == sys.argv[2], r
assert "tools" in r["capabilities"], r
PY

# The units: the hardening the system unit promises, then systemd's own check (which exits 0
# on unknown keys and bad values, so any output fails here). ExecStart must exist: verify copies
# pointing at the unpacked binary.
sys_unit=$tmp/root/usr/lib/systemd/system/concierge.service
user_unit=$tmp/root/usr/lib/systemd/user/concierge.service
for line in ProtectSystem=strict NoNewPrivileges=yes StateDirectory=concierge PrivateTmp=yes DynamicUser=yes \
            'Environment=CONCIERGE_DATA_DIR=%S/concierge' 'ExecStart=/usr/bin/concierge serve --http'; do
  grep -q "^$line" "$sys_unit" || fail "the system unit has no $line"
done
grep -q '^ExecStart=/usr/bin/concierge serve --http' "$user_unit" || fail "the user unit does not serve HTTP"
grep -q '^ExecStart=/usr/bin/concierge serve --http ${CONCIERGE_HTTP} --instance %i' "$tmp/root/usr/lib/systemd/system/concierge@.service" ||
  fail "concierge@.service does not name its instance"
grep -q '^StandardInput=null' "$user_unit" || fail "the user unit leaves stdin open"
if command -v systemd-analyze >/dev/null; then
  mkdir -p "$tmp/units/system" "$tmp/units/user" "$tmp/run"
  sed "s|/usr/bin/concierge|$bin|" "$sys_unit" > "$tmp/units/system/concierge.service"
  sed "s|/usr/bin/concierge|$bin|" "$user_unit" > "$tmp/units/user/concierge.service"
  systemd-analyze verify --man=no "$tmp/units/system/concierge.service" > "$tmp/verify" 2>&1 || { cat "$tmp/verify" >&2; fail "systemd-analyze refused the system unit"; }
  [ ! -s "$tmp/verify" ] || { cat "$tmp/verify" >&2; fail "systemd-analyze warned about the system unit"; }
  # The instance template, as instance a (verify wants a name; it finds the template beside it).
  sed "s|/usr/bin/concierge|$bin|" "$tmp/root/usr/lib/systemd/system/concierge@.service" > "$tmp/units/system/concierge@.service"
  systemd-analyze verify --man=no "$tmp/units/system/concierge@a.service" > "$tmp/verify" 2>&1 || { cat "$tmp/verify" >&2; fail "systemd-analyze refused concierge@.service"; }
  [ ! -s "$tmp/verify" ] || { cat "$tmp/verify" >&2; fail "systemd-analyze warned about concierge@.service"; }
  XDG_RUNTIME_DIR=$tmp/run systemd-analyze --user verify --man=no "$tmp/units/user/concierge.service" > "$tmp/verify" 2>&1 ||
    { cat "$tmp/verify" >&2; fail "systemd-analyze refused the user unit"; }
  [ ! -s "$tmp/verify" ] || { cat "$tmp/verify" >&2; fail "systemd-analyze warned about the user unit"; }
else
  echo "check_deb: systemd-analyze not installed: units not verified"
fi

# The system unit's command line as systemd would run it, with the environment it sets (the
# address made port 0): the unpacked binary serves HTTP and /healthz answers 200.
cmdline=$(sed -n 's/^ExecStart=//p' "$sys_unit")
cmdline=${cmdline//'${CONCIERGE_HTTP}'/127.0.0.1:0}
cmdline=${cmdline//'$CONCIERGE_OPTS'/}
cmdline=${cmdline/\/usr\/bin\/concierge/$bin}
mkfifo "$tmp/stderr.fifo"
CONCIERGE_DATA_DIR=$tmp/state $cmdline 2>"$tmp/stderr.fifo" >/dev/null </dev/null &
server=$!
exec 3<"$tmp/stderr.fifo"
port=
while IFS= read -r -t 30 line <&3; do
  echo "$line" >> "$tmp/server.log"
  if [[ "$line" =~ listening\ on\ http://127\.0\.0\.1:([0-9]+)/mcp ]]; then port=${BASH_REMATCH[1]}; break; fi
done
if [ -z "$port" ]; then
  kill "$server" 2>/dev/null || true
  cat "$tmp/server.log" >&2 2>/dev/null || true
  fail "the system unit's ExecStart ($cmdline) did not start serving"
fi
status=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/healthz") || status="no answer"
kill "$server"
wait "$server" || true
server=
exec 3<&-
[ "$status" = 200 ] || fail "/healthz answered $status, not 200"
[ -f "$tmp/state/concierge.db" ] || fail "no database in CONCIERGE_DATA_DIR (the unit's StateDirectory)"

# The man page: gzipped roff with NAME and SYNOPSIS, and the subcommands' options.
page=$tmp/root/usr/share/man/man1/concierge.1.gz
zcat "$page" > "$tmp/page"
for section in NAME SYNOPSIS OPTIONS COMMANDS; do
  grep -q "^\.SH \"\?$section\"\?\$" "$tmp/page" || fail "the man page has no $section section"
done
grep -q -- '--http' "$tmp/page" || fail "the man page lacks serve's --http"
if command -v man >/dev/null; then
  MANWIDTH=80 man -l "$page" 2>/dev/null | grep -q '^SYNOPSIS' || fail "man -l renders no SYNOPSIS"
fi
echo "check_deb: $(basename "$deb") ok ($(du -k "$deb" | cut -f1) KiB)"
