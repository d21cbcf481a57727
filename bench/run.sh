#!/usr/bin/env bash
# Concierge side by side with a peer MCP server on the official TypeScript SDK (bench/peer), and
# with nginx returning a fixed JSON 200 as the ceiling of loopback HTTP. One run measures, in
# alternating rounds (ours, peer, nginx, ours, peer, nginx ...), medians over rounds:
#   - HTTP `tools/call echo` req/s, p50/p99 latency and server CPU per call, at each connection
#     count: stateless requests (Concierge: 2026-07-28; the peer: the SDK's stateless mode) and
#     legacy session requests (2025-06-18, Mcp-Session-Id), with wrk;
#   - stdio: spawn -> initialize reply, sequential round trips per second, p50/p99;
#   - each server's peak RSS (VmHWM) over the run;
#   - N SSE streams held open (legacy GET /mcp streams on both servers, then
#     `subscriptions/listen` streams on Concierge) while the stateless HTTP test runs again:
#     throughput kept and RSS.
# It prints a table, the ratios and PASS/MISS per target of issue 4 (targets never fail the run),
# and writes every figure to bench/results/latest.json.
#
# usage: bench/run.sh [--smoke] [--binary PATH] [--rounds N] [--duration SECONDS]
#                     [--connections "1 16 64"] [--streams N] [--stdio-calls N]
#                     [--nginx auto|install|off] [--no-install] [--out FILE]
#   --smoke        a few seconds: 1 round x 1 s, 8 connections, 50 streams, 200 stdio calls;
#                  no targets; fails if any measurement could not be taken (a server that does not
#                  start or dies, zero requests, non-2xx replies, streams that do not open)
#   --binary       the concierge binary (default: build/concierge; it is never built here)
#   --nginx        auto: use nginx if installed (default); install: apt-get it if missing; off
#   --no-install   do not apt-get wrk / npm ci the peer when missing: fail instead
#   --no-instances skip the last part: bench/instances.py (one instance against two behind nginx,
#                  SQLite against PostgreSQL), run with the same rounds and duration
# Needs: bash, python3, node + npm (for the peer), wrk (Debian package; installed when missing).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/.." && pwd)

smoke=0
binary="$root/build/concierge"
rounds=3
secs=5
conns_list="1 16 64"
streams=1000
stdio_calls=2000
nginx_mode=auto
install=1
instances=1
out=""
warmup=2
set_rounds="" set_secs="" set_conns="" set_streams="" set_calls=""

die() { echo "bench: $*" >&2; exit 1; }
while (($#)); do
  case "$1" in
    --smoke) smoke=1 ;;
    --binary) binary=${2:?--binary needs a path}; shift ;;
    --binary=*) binary=${1#*=} ;;
    --rounds) set_rounds=${2:?}; shift ;;
    --duration) set_secs=${2:?}; shift ;;
    --connections) set_conns=${2:?}; shift ;;
    --streams) set_streams=${2:?}; shift ;;
    --stdio-calls) set_calls=${2:?}; shift ;;
    --nginx) nginx_mode=${2:?}; shift ;;
    --nginx=*) nginx_mode=${1#*=} ;;
    --no-install) install=0 ;;
    --no-instances) instances=0 ;;
    --out) out=${2:?}; shift ;;
    -h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) die "unknown argument: $1 (see --help)" ;;
  esac
  shift
done
if ((smoke)); then
  rounds=1 secs=1 conns_list="8" streams=50 stdio_calls=200 warmup=0
fi
rounds=${set_rounds:-$rounds} secs=${set_secs:-$secs} conns_list=${set_conns:-$conns_list}
streams=${set_streams:-$streams} stdio_calls=${set_calls:-$stdio_calls}
case "$nginx_mode" in auto|install|off) ;; *) die "--nginx must be auto, install or off" ;; esac
[ -n "$out" ] || { if ((smoke)); then out="$here/results/smoke.json"; else out="$here/results/latest.json"; fi; }
read -r -a conns_arr <<<"$conns_list"
((${#conns_arr[@]})) || die "--connections is empty"
# The connection count the targets name (16) when measured, else the last one listed.
focus_conns=${conns_arr[-1]}
for c in "${conns_arr[@]}"; do [ "$c" = 16 ] && focus_conns=16; done
max_conns=0
for c in "${conns_arr[@]}"; do ((c > max_conns)) && max_conns=$c; done

# --- prerequisites ------------------------------------------------------------------------------
[ -x "$binary" ] || die "no executable at $binary: build Concierge first (cmake --build build), or pass --binary PATH"
binary=$(cd "$(dirname "$binary")" && pwd)/$(basename "$binary")
# The system interpreter when there is one: it starts in milliseconds, where a version manager's
# shim can take a second per call. Only the standard library is used.
if [ -x /usr/bin/python3 ]; then py=/usr/bin/python3; else py=$(command -v python3) || die "python3 is needed"; fi
command -v node >/dev/null || die "node is needed (for the TypeScript SDK peer)"

apt_install() {
  ((install)) || die "$* missing and --no-install given"
  local sudo=; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "bench: apt-get install $*" >&2
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null 2>&1 ||
    { $sudo apt-get update -qq && $sudo apt-get install -y -qq --no-install-recommends "$@" >/dev/null; } ||
    die "apt-get install $* failed"
}
command -v wrk >/dev/null || apt_install wrk
command -v wrk >/dev/null || die "wrk is not installed"
if [ ! -d "$here/peer/node_modules/@modelcontextprotocol/sdk" ]; then
  ((install)) || die "bench/peer/node_modules missing and --no-install given (run npm ci in bench/peer)"
  command -v npm >/dev/null || die "npm is needed to install the peer's packages"
  echo "bench: npm ci in bench/peer" >&2
  (cd "$here/peer" && npm ci --no-audit --no-fund --loglevel=error >&2) || die "npm ci in bench/peer failed"
fi
find_nginx() { command -v nginx 2>/dev/null || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true; }
nginx_bin=""
if [ "$nginx_mode" != off ]; then
  nginx_bin=$(find_nginx)
  if [ -z "$nginx_bin" ] && [ "$nginx_mode" = install ]; then apt_install nginx-light; nginx_bin=$(find_nginx); fi
fi

# 1,000 streams need file descriptors on both sides: raise the soft limit as far as allowed.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || ulimit -n 65536 2>/dev/null || true

tmp=$(mktemp -d "${TMPDIR:-/tmp}/concierge-bench.XXXXXX")
records="$tmp/records.jsonl"
: >"$records"
pids=()
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  # Only children not yet waited for are listed, so none of these ids can have been reused.
  for ((i = ${#pids[@]} - 1; i >= 0; i--)); do kill "${pids[i]}" 2>/dev/null || true; done
  for p in "${pids[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$p" 2>/dev/null; then kill -9 "$p" 2>/dev/null || true; fi
    wait "$p" 2>/dev/null || true
  done
  rm -rf "$tmp"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

started=$(date +%s)
clk_tck=$(getconf CLK_TCK)
echo "bench: $( ((smoke)) && echo smoke || echo full) run: $rounds round(s) x ${secs}s, connections $conns_list, $streams streams, $stdio_calls stdio calls; nginx: ${nginx_bin:-not used}; load $(cut -d' ' -f1-3 /proc/loadavg)"

# --- helpers ------------------------------------------------------------------------------------
cpu_ticks() { local s; s=$(<"/proc/$1/stat"); s=${s##*) }; read -r -a f <<<"$s"; echo $((f[11] + f[12])); }
status_kb() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
free_port() { "$py" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_listening LOGFILE PID NAME: the port a server logs as "listening on http://127.0.0.1:PORT/mcp".
wait_listening() {
  local port
  for _ in $(seq 200); do
    kill -0 "$2" 2>/dev/null || { sed 's/^/  /' "$1" >&2; die "$3 exited before listening"; }
    port=$(grep -o 'listening on http://127\.0\.0\.1:[0-9]*' "$1" 2>/dev/null | head -1 | grep -o '[0-9]*$' || true)
    [ -n "$port" ] && { echo "$port"; return; }
    sleep 0.05
  done
  sed 's/^/  /' "$1" >&2
  die "$3 did not report listening within 10 s"
}

declare -A pid_of url_of sessions_of token_of
# ours records every call in its command history (as shipped); bare is the same binary with
# --no-history, to measure what recording costs.
start_ours() {
  local name=${1:-ours}; shift || true
  "$binary" --data-dir "$tmp/$name-data" serve --http 127.0.0.1:0 "$@" 2>"$tmp/$name.log" &
  pid_of[$name]=$!; pids+=($!)
  url_of[$name]="http://127.0.0.1:$(wait_listening "$tmp/$name.log" "${pid_of[$name]}" "concierge ($name)")/mcp"
}
# jwt: the same binary as ours with --auth issuer, a JWT on every request (bench/issuer.py signs
# it; the server verifies it against the issuer's JWKS and caches the result by the token's hash).
start_jwt() {
  "$py" "$here/issuer.py" "$tmp/issuer" >"$tmp/issuer.out" 2>"$tmp/issuer.log" &
  pids+=($!)
  local port=""
  for _ in $(seq 200); do
    port=$(awk '/^ready/ { print $2 }' "$tmp/issuer.out" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.05
  done
  [ -n "$port" ] || { cat "$tmp/issuer.log" >&2; die "the bench issuer did not start"; }
  start_ours jwt --auth issuer --auth-issuer "http://127.0.0.1:$port"
  token_of[jwt]=$("$py" -c 'import sys, urllib.parse, urllib.request; print(urllib.request.urlopen(sys.argv[1] + urllib.parse.quote(sys.argv[2], safe="")).read().decode())' "http://127.0.0.1:$port/mint?aud=" "${url_of[jwt]}") || die "the bench issuer minted no token"
}
start_peer() {
  node "$here/peer/peer.mjs" http 0 2>"$tmp/peer.log" &
  pid_of[peer]=$!; pids+=($!)
  url_of[peer]="http://127.0.0.1:$(wait_listening "$tmp/peer.log" "${pid_of[peer]}" "TS SDK peer")/mcp"
}
# nginx returning the same bytes Concierge answers a stateless echo with; one worker process.
start_nginx() {
  local port dir="$tmp/nginx" reply
  port=$(free_port)
  mkdir -p "$dir/logs"
  reply='{"id":1,"jsonrpc":"2.0","result":{"_meta":{"io.modelcontextprotocol/serverInfo":{"description":"Your calendar, mail, music, video and bookings for AI assistants.","name":"concierge","title":"Concierge","version":"0.1.0"}},"content":[{"text":"hello","type":"text"}],"resultType":"complete"}}'
  cat >"$dir/nginx.conf" <<EOF
daemon off;
master_process on;
worker_processes 1;
pid $dir/nginx.pid;
error_log $dir/logs/error.log warn;
events { worker_connections 8192; }
http {
  access_log off;
  client_body_temp_path $dir/client_body;
  proxy_temp_path $dir/proxy;
  fastcgi_temp_path $dir/fastcgi;
  uwsgi_temp_path $dir/uwsgi;
  scgi_temp_path $dir/scgi;
  keepalive_requests 1000000;
  keepalive_timeout 30s;
  server {
    listen 127.0.0.1:$port;
    location / { default_type application/json; return 200 '$reply'; }
  }
}
EOF
  "$nginx_bin" -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" 2>"$tmp/nginx.log" &
  local master=$!; pids+=($master)
  local worker=""
  for _ in $(seq 100); do
    kill -0 "$master" 2>/dev/null || { cat "$tmp/nginx.log" "$dir/logs/error.log" >&2 2>/dev/null; die "nginx exited at start"; }
    worker=$(pgrep -P "$master" | head -1 || true)
    if [ -n "$worker" ] && "$py" -c 'import socket,sys; socket.create_connection(("127.0.0.1", int(sys.argv[1])), 1)' "$port" 2>/dev/null; then break; fi
    worker=""; sleep 0.05
  done
  [ -n "$worker" ] || die "nginx did not start listening on 127.0.0.1:$port"
  pid_of[nginx]=$worker
  pid_of[nginx_master]=$master
  url_of[nginx]="http://127.0.0.1:$port/mcp"
}

# cell PHASE ROUND TARGET MODE CONNS STREAMS [record=1]: one wrk run, recorded in records.jsonl.
cell() {
  local phase=$1 round=$2 target=$3 mode=$4 c=$5 nstreams=$6 record=${7:-1}
  local pid=${pid_of[$target]} kind threads=2 cpu0 cpu1 rc=0 res="$tmp/cell.json" alive=true
  case "$target:$mode" in
    ours:stateless|bare:stateless|jwt:stateless|hdr:stateless|nginx:stateless) kind=modern ;;
    peer:stateless) kind=stateless ;;
    *:session) kind=session ;;
  esac
  ((c < 2)) && threads=1
  rm -f "$res"
  cpu0=$(cpu_ticks "$pid")
  BENCH_KIND=$kind BENCH_SESSIONS=${sessions_of[$target]:-} BENCH_RESULT=$res BENCH_TOKEN=${token_of[$target]:-} \
    wrk -t"$threads" -c"$c" -d"${secs}s" --timeout 5s --latency -s "$here/wrk/mcp.lua" "${url_of[$target]}" \
    >"$tmp/wrk.out" 2>&1 || rc=$?
  kill -0 "$pid" 2>/dev/null || alive=false
  if [ "$alive" = false ]; then
    echo "bench: $target died during $phase $mode c$c" >&2
    [ -f "$tmp/$target.log" ] && tail -20 "$tmp/$target.log" | sed 's/^/  /' >&2
    die "$target is not running any more"
  fi
  cpu1=$(cpu_ticks "$pid")
  if ((rc)) || [ ! -s "$res" ]; then
    sed 's/^/  /' "$tmp/wrk.out" >&2
    die "wrk failed against $target ($phase $mode c$c, exit $rc)"
  fi
  ((record)) || return 0
  printf '{"type":"cell","phase":"%s","round":%d,"target":"%s","mode":"%s","conns":%d,"streams":%d,"cpu_ticks":%d,"clk_tck":%d,"rss_kb":%d,"hwm_kb":%d,"wrk":%s}\n' \
    "$phase" "$round" "$target" "$mode" "$c" "$nstreams" $((cpu1 - cpu0)) "$clk_tck" \
    "$(status_kb "$pid" VmRSS)" "$(status_kb "$pid" VmHWM)" "$(head -1 "$res")" >>"$records"
  # A progress line from wrk's JSON (awk: a python start per cell costs more than the line is worth).
  awk -v ph="$phase" -v r="$round" -v t="$target" -v m="$mode" -v c="$c" -v cpu=$((cpu1 - cpu0)) -v hz="$clk_tck" '
    function num(k,   s) { if (match($0, "\"" k "\":[0-9.]+")) { s = substr($0, RSTART, RLENGTH); sub(/.*:/, "", s); return s + 0 } return 0 }
    { n = num("requests"); d = num("duration_us"); bad = num("status") + num("connect") + num("read") + num("write") + num("timeout")
      printf "   %-7s r%d %-5s %-9s c%-3d %9.0f req/s  p50 %7.2f ms  p99 %7.2f ms  cpu %5.0f us/call%s\n", ph, r, t, m, c,
        (d ? n / (d / 1e6) : 0), num("p50") / 1000, num("p99") / 1000, (n ? cpu / hz * 1e6 / n : 0),
        (bad ? "  ERRORS " bad : "") }' "$res"
}

rss_record() {  # rss_record TARGET WHEN
  local pid=${pid_of[$1]}
  printf '{"type":"rss","target":"%s","when":"%s","rss_kb":%d,"hwm_kb":%d,"threads":%d}\n' "$1" "$2" \
    "$(status_kb "$pid" VmRSS)" "$(status_kb "$pid" VmHWM)" "$(status_kb "$pid" Threads)" >>"$records"
}

# --- stdio ---------------------------------------------------------------------------------------
echo "== stdio: spawn -> initialize, $stdio_calls sequential tools/call echo"
for r in $(seq "$rounds"); do
  for target in ours peer; do
    if [ "$target" = ours ]; then cmd=("$binary" --data-dir "$tmp/stdio-data" serve); else cmd=(node "$here/peer/peer.mjs" stdio); fi
    line=$("$py" "$here/stdio_bench.py" "$stdio_calls" --label "$target" -- "${cmd[@]}") ||
      die "stdio benchmark of $target failed"
    printf '{"type":"stdio","round":%d,"target":"%s","result":%s}\n' "$r" "$target" "$line" >>"$records"
  done
done

# --- HTTP servers ---------------------------------------------------------------------------------
start_ours
start_ours bare --no-history
start_jwt
start_peer
[ -n "$nginx_bin" ] && start_nginx
targets=(ours peer); [ -n "$nginx_bin" ] && targets+=(nginx)
echo "== HTTP: ours ${url_of[ours]}, peer ${url_of[peer]}${nginx_bin:+, nginx ${url_of[nginx]}}"

# Every request kind is checked once by hand (status and echoed text) before it is timed (wrk
# itself only counts non-2xx replies), and the sessions the session cells use are opened.
sessions_of[ours]=$("$py" "$here/mcpclient.py" prepare "${url_of[ours]}" modern "$max_conns") ||
  die "Concierge did not answer echo (2026-07-28 stateless, or on a 2025-06-18 session)"
sessions_of[bare]=$("$py" "$here/mcpclient.py" prepare "${url_of[bare]}" modern "$max_conns") ||
  die "Concierge --no-history did not answer echo"
sessions_of[jwt]=$(BENCH_TOKEN=${token_of[jwt]} "$py" "$here/mcpclient.py" prepare "${url_of[jwt]}" modern "$max_conns") ||
  die "Concierge --auth issuer did not answer echo with a JWT"
# hdr: ours (no auth) sent the same Authorization header, which it ignores: what carrying the
# token's bytes costs, apart from verifying it (jwt / hdr).
pid_of[hdr]=${pid_of[ours]} url_of[hdr]=${url_of[ours]} sessions_of[hdr]=${sessions_of[ours]} token_of[hdr]=${token_of[jwt]}
sessions_of[peer]=$("$py" "$here/mcpclient.py" prepare "${url_of[peer]}" stateless "$max_conns") ||
  die "the peer did not answer echo (stateless, or on a session)"

if ((warmup)); then
  echo "== warm-up (${warmup}s per server and mode, not recorded)"
  saved=$secs; secs=$warmup
  for target in ours peer; do for mode in stateless session; do cell warmup 0 "$target" "$mode" "$focus_conns" 0 0; done; done
  secs=$saved
fi

echo "== HTTP tools/call echo, $rounds round(s) x ${secs}s per cell"
for r in $(seq "$rounds"); do
  for mode in stateless session; do
    for c in "${conns_arr[@]}"; do
      cell main "$r" ours "$mode" "$c" 0
      [ "$c" = "$focus_conns" ] && cell main "$r" bare "$mode" "$c" 0
      [ "$c" = "$focus_conns" ] && cell main "$r" jwt "$mode" "$c" 0
      [ "$c" = "$focus_conns" ] && cell main "$r" hdr "$mode" "$c" 0
      cell main "$r" peer "$mode" "$c" 0
      [ "$mode" = stateless ] && [ -n "$nginx_bin" ] && cell main "$r" nginx stateless "$c" 0
    done
  done
done
for t in "${targets[@]}"; do rss_record "$t" main; done

# --- streams held open ----------------------------------------------------------------------------
# hold TARGET KIND: opens $streams streams in the background; sets hold_pid.
hold() {
  local target=$1 kind=$2 f="$tmp/hold-$1-$2.out"
  "$py" "$here/mcpclient.py" hold "${url_of[$target]}" "$streams" --kind "$kind" >"$f" 2>"$tmp/hold-$1-$2.err" &
  hold_pid=$!; pids+=($hold_pid)
  for _ in $(seq 1800); do
    grep -q '^ready' "$f" 2>/dev/null && break
    kill -0 "$hold_pid" 2>/dev/null || { cat "$tmp/hold-$1-$2.err" >&2; die "stream opener for $target exited early"; }
    sleep 0.1
  done
  grep -q '^ready' "$f" || die "$streams $kind streams on $target did not open within 180 s"
  read -r _ opened failed open_s < <(grep '^ready' "$f")
  echo "   $target: $opened/$streams $kind streams open in ${open_s}s ($failed failed)"
  [ "$failed" = 0 ] || sed 's/^/   /' "$tmp/hold-$1-$2.err" >&2
}
# release TARGET KIND PID: closes the streams and records what was held.
release() {
  local target=$1 kind=$2 p=$3 f="$tmp/hold-$1-$2.out" still
  local rss hwm threads
  rss=$(status_kb "${pid_of[$target]}" VmRSS) hwm=$(status_kb "${pid_of[$target]}" VmHWM) threads=$(status_kb "${pid_of[$target]}" Threads)
  kill "$p" 2>/dev/null || true
  wait "$p" 2>/dev/null || true
  local keep=() q
  for q in "${pids[@]}"; do [ "$q" = "$p" ] || keep+=("$q"); done
  pids=("${keep[@]}")
  still=$(awk '/^closed/ { print $2 }' "$f"); still=${still:-0}
  read -r _ opened failed open_s < <(grep '^ready' "$f")
  printf '{"type":"streams","target":"%s","kind":"%s","wanted":%d,"opened":%d,"failed":%d,"open_s":%s,"still_open_at_end":%d,"rss_kb":%d,"hwm_kb":%d,"threads":%d}\n' \
    "$target" "$kind" "$streams" "$opened" "$failed" "$open_s" "$still" "$rss" "$hwm" "$threads" >>"$records"
  echo "   $target: released; $still/$opened $kind streams were still open; RSS with them $((rss / 1024)) MB, $threads threads"
}

echo "== $streams legacy SSE streams (a session and its GET /mcp stream each) open on both servers"
hold ours legacy; hold_ours=$hold_pid
hold peer legacy; hold_peer=$hold_pid
for r in $(seq "$rounds"); do
  cell streams "$r" ours stateless "$focus_conns" "$streams"
  cell streams "$r" peer stateless "$focus_conns" "$streams"
done
release ours legacy "$hold_ours"
release peer legacy "$hold_peer"

echo "== $streams subscriptions/listen streams (2026-07-28) open on Concierge"
hold ours listen; hold_listen=$hold_pid
for r in $(seq "$rounds"); do cell listen "$r" ours stateless "$focus_conns" "$streams"; done
release ours listen "$hold_listen"

for t in "${targets[@]}"; do rss_record "$t" end; done

# --- report ---------------------------------------------------------------------------------------
mkdir -p "$(dirname "$out")"
args=(--records "$records" --out "$out" --binary "$binary" --peer-dir "$here/peer"
      --log ours="$tmp/ours.log" --log bare="$tmp/bare.log" --log jwt="$tmp/jwt.log" --log peer="$tmp/peer.log" --started "$started"
      --config "rounds=$rounds" "secs=$secs" "connections=$conns_list" "focus_conns=$focus_conns"
      "streams=$streams" "stdio_calls=$stdio_calls")
[ -n "$nginx_bin" ] && args+=(--log nginx="$tmp/nginx/logs/error.log" --nginx "$nginx_bin")
((smoke)) && args+=(--smoke)
"$py" "$here/report.py" "${args[@]}"

# --- several instances, SQLite against PostgreSQL (issue 19) --------------------------------------
if ((instances)); then
  echo "== instances: one against two behind nginx, SQLite against PostgreSQL (bench/instances.py)"
  if ((smoke)); then
    python3 "$here/instances.py" --binary "$binary" --smoke
  else
    python3 "$here/instances.py" --binary "$binary" --rounds "$rounds" --duration "$secs"
  fi
fi
