#!/usr/bin/env bash
# Sets everything up and runs every test: a normal build, then the same tests built with
# AddressSanitizer + UndefinedBehaviorSanitizer (any sanitizer report fails the run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh

JOBS=${JOBS:-$(nproc)}
# ccache (Debian): paths relative to the checkout and no build directory in the hash, so a
# second clone of the same sources (CI's) reuses the objects.
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
LAUNCHER=(); command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
run_suite() {  # build_dir, extra cmake args...
  local dir=$1; shift
  cmake -S . -B "$dir" -G Ninja "${LAUNCHER[@]}" "$@" >/dev/null
  cmake --build "$dir" -j "$JOBS"
  ctest --test-dir "$dir" --output-on-failure -j "$JOBS" --timeout 300 "${CTEST_ARGS[@]}"
  check_case_count "$dir"
}

# Every Catch2 case defined ran once under ctest: a name the discovery mangles, or a case lost
# between the binary and ctest, would otherwise pass unnoticed.
check_case_count() {
  local dir=$1 defined ran
  # Catch2 v2 exits with the number of cases it listed.
  defined=$( ("$dir/tests/concierge_tests" --list-test-names-only || true) | grep -c .)
  ran=$(grep -cE '^All tests passed \(.* in 1 test case\)' "$dir/Testing/Temporary/LastTest.log" || true)
  # ...plus the PostgreSQL pass's "pg:" copies of some of them (tests/CMakeLists.txt). After
  # reading the log: listing with ctest -N writes a new, empty one.
  again=$(ctest --test-dir "$dir" -N | grep -cE '^ +Test +#[0-9]+: pg:' || true)
  echo "Catch2 cases: $defined defined and $again again on PostgreSQL, $ran ran and passed under ctest"
  if [ $((defined + again)) -ne "$ran" ]; then
    echo "test.sh: $defined Catch2 cases (and $again on PostgreSQL) are defined but $ran ran and passed" >&2
    exit 1
  fi
}
CTEST_ARGS=()

echo "== build and test (RelWithDebInfo) =="
run_suite build -DCMAKE_BUILD_TYPE=RelWithDebInfo

echo "== build and test (ASan + UBSan) =="
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
run_suite build-asan -DCMAKE_BUILD_TYPE=Debug -DCONCIERGE_SANITIZE=ON

echo "== build and test (ThreadSanitizer) =="
bash scripts/tsan.sh

# The libFuzzer harnesses (fuzz/): built with clang and run briefly on their seed corpus, so a
# crash on known-shaped input or a harness that no longer builds fails the run. Longer runs:
# bash scripts/fuzz.sh 600.
echo "== fuzz smoke (10 s per harness) =="
bash scripts/fuzz.sh 10
