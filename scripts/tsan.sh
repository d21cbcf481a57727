#!/usr/bin/env bash
# ThreadSanitizer: builds the server and its tests with g++ -fsanitize=thread (build-tsan/) and
# runs every Catch2 case: the in-process ones (core, tasks, HTTP and stdio transports, store,
# HTTP client, adapters against fakes and local servers) and those that spawn the instrumented
# binary. A report from any process, the tests' or a server they started, fails the run.
# Usage: bash scripts/tsan.sh [catch2 test spec]   (default: every case)
set -euo pipefail
cd "$(dirname "$0")/.."

JOBS=${JOBS:-$(nproc)}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
LAUNCHER=(); command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
# RelWithDebInfo: -O2 keeps TSan's slowdown bearable, -g gives reports their lines.
start=$SECONDS
cmake -S . -B build-tsan -G Ninja "${LAUNCHER[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCONCIERGE_TSAN=ON >/dev/null
cmake --build build-tsan -j "$JOBS" --target concierge_tests  # builds the binary too
echo "tsan: built in $((SECONDS - start)) s"

# Each process writes its reports to its own file: a spawned server's report fails the run even
# when the test that started it does not look at its exit status.
logs=build-tsan/tsan-logs
rm -rf "$logs" && mkdir -p "$logs"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp log_path=$PWD/$logs/report ${TSAN_OPTIONS:-}"
export CONCIERGE_DATA_DIR="$PWD/build-tsan/tests/test-data"  # the one ctest gives the tests
start=$SECONDS
status=0
build-tsan/tests/concierge_tests --warn NoTests "$@" || status=$?
if compgen -G "$logs/report.*" >/dev/null; then
  cat "$logs"/report.* >&2
  echo "tsan: ThreadSanitizer reports above (from $(ls "$logs" | wc -l) process(es))" >&2
  exit 1
fi
((status == 0)) || { echo "tsan: tests failed (exit $status)" >&2; exit "$status"; }
echo "tsan: tests passed in $((SECONDS - start)) s"

# The cases whose threads meet in the database again on PostgreSQL (a server of this run's own):
# the seam, the stores several instances share, one OAuth refresh across processes.
if (($# == 0)); then
  start=$SECONDS
  pg=build-tsan/pg
  bash scripts/postgres.sh stop "$pg"; rm -rf "$pg"
  bash scripts/postgres.sh start "$pg" >"$pg.env"
  trap 'bash scripts/postgres.sh stop "$pg"' EXIT
  CONCIERGE_TEST_POSTGRES="$PWD/$pg.env" build-tsan/tests/concierge_tests --warn NoTests "[sql],[instances]~[process],[oauth]" || status=$?
  if compgen -G "$logs/report.*" >/dev/null; then
    cat "$logs"/report.* >&2
    echo "tsan: ThreadSanitizer reports above (PostgreSQL pass)" >&2
    exit 1
  fi
  ((status == 0)) || { echo "tsan: PostgreSQL pass failed (exit $status)" >&2; exit "$status"; }
  echo "tsan: PostgreSQL pass passed in $((SECONDS - start)) s"
fi
