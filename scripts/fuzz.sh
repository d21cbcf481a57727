#!/usr/bin/env bash
# Builds the libFuzzer harnesses (fuzz/, clang 14 with ASan + UBSan) in build-fuzz/ and runs
# each for SECONDS (default 60) on a copy of its seed corpus, one after another. Fails when any
# harness crashes, hangs or runs out of memory; the input that did it is kept in
# build-fuzz/artifacts/. Prints each harness's executions and coverage (cov/ft) at the end.
#
#   bash scripts/fuzz.sh [SECONDS] [HARNESS...]     e.g. bash scripts/fuzz.sh 10 (CI's smoke run)
#
# New inputs go to build-fuzz/corpus/<name>/, never into fuzz/corpus/ (the committed seeds).
set -euo pipefail
cd "$(dirname "$0")/.."
SECS=${1:-60}
shift || true
CXX_FUZZ=${CXX_FUZZ:-clang++-14}
JOBS=${JOBS:-$(nproc)}
export CCACHE_BASEDIR="$PWD" CCACHE_NOHASHDIR=1
export CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime
LAUNCHER=(); command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
HARNESSES=("$@")
if [ ${#HARNESSES[@]} -eq 0 ]; then
  for f in fuzz/*.cpp; do HARNESSES+=("$(basename "$f" .cpp)"); done
fi
# FUZZ_NO_BUILD=1: run what build-fuzz/ has (e.g. while a build of other targets runs there).
if [ -z "${FUZZ_NO_BUILD:-}" ]; then
  # -O1 and line tables only: the sanitizers' cost dominates anyway, and it compiles far faster.
  # NDEBUG stays off: an assert is one more oracle.
  cmake -S . -B build-fuzz -G Ninja "${LAUNCHER[@]}" -DCMAKE_CXX_COMPILER="$CXX_FUZZ" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only" -DCONCIERGE_FUZZ=ON -DCONCIERGE_TESTS=OFF >/dev/null
  cmake --build build-fuzz -j "$JOBS" --target "${HARNESSES[@]/#/fuzz_}"
fi

# Per harness: the longest input (the server harnesses send whole messages) and how long one
# input may take before it counts as a hang (dispatch waits up to 22 s for cancelled handlers).
max_len() { case $1 in dispatch) echo 4096 ;; http_request) echo 8192 ;; *) echo 4096 ;; esac; }
timeout_of() { case $1 in dispatch | http_request) echo 30 ;; *) echo 10 ;; esac; }

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:allocator_may_return_null=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
mkdir -p build-fuzz/artifacts build-fuzz/logs
failed=()
summary=()
for h in "${HARNESSES[@]}"; do
  corpus=build-fuzz/corpus/$h
  mkdir -p "$corpus"
  cp -n fuzz/corpus/"$h"/* "$corpus"/ 2>/dev/null || true
  dict=(); [ -f fuzz/"$h".dict ] && dict=(-dict=fuzz/"$h".dict)
  log=build-fuzz/logs/$h.log
  echo "== fuzz $h (${SECS} s)"
  rc=0
  build-fuzz/fuzz/fuzz_"$h" "$corpus" "${dict[@]}" -max_total_time="$SECS" -rss_limit_mb=2048 -max_len="$(max_len "$h")" \
    -timeout="$(timeout_of "$h")" -print_final_stats=1 -artifact_prefix=build-fuzz/artifacts/"$h"- >"$log" 2>&1 || rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: [0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || true)
  stats=$(grep -E '^#[0-9]+.*cov: ' "$log" | tail -1 | grep -oE 'cov: [0-9]+ ft: [0-9]+ corp: [0-9]+/[0-9]+[a-zA-Z]*' || true)
  line=$(printf '%-20s execs %-10s %s' "$h" "${runs:-?}" "${stats:-no stats}")
  if [ $rc -ne 0 ]; then
    line+="  FAILED (exit $rc, see $log)"
    failed+=("$h")
    grep -E 'ERROR: |SUMMARY: |Test unit written|==[0-9]+== ' "$log" | head -8 || true
  fi
  echo "$line"
  summary+=("$line")
done
echo "== fuzz summary (${SECS} s each)"
printf '%s\n' "${summary[@]}"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found a problem in: ${failed[*]}" >&2
  exit 1
fi
