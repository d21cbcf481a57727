#!/usr/bin/env bash
# The Debian package from a finished build: bash scripts/package.sh [BUILD_DIR] [OUT_DIR]
# (defaults: build/ and the current directory). Leaves concierge_<version>_<arch>.deb in OUT_DIR
# and prints its path. It builds nothing: run `cmake --build BUILD_DIR` first. CPack's own
# staging goes under OUT_DIR/_CPack_Packages, so the build directory is only read.
# Needs help2man (the man page) and dpkg-dev (dpkg-shlibdeps): scripts/install-deps.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build=$(cd "${1:-$root/build}" && pwd)
out=${2:-$PWD}
mkdir -p "$out"
out=$(cd "$out" && pwd)

[ -f "$build/CPackConfig.cmake" ] || { echo "package.sh: $build has no CPackConfig.cmake: not a configured build" >&2; exit 2; }
[ -x "$build/concierge" ] || { echo "package.sh: $build/concierge is missing: build it first (cmake --build $build)" >&2; exit 2; }
if grep -q '^CONCIERGE_SANITIZE:BOOL=ON\|^CONCIERGE_TSAN:BOOL=ON\|^CONCIERGE_FUZZ:BOOL=ON' "$build/CMakeCache.txt"; then
  echo "package.sh: $build is an instrumented build (sanitizers or fuzzing): package a normal one" >&2
  exit 2
fi

# CPack's DEB generator writes the archive's entries as root:root itself: no fakeroot needed.
log="$out/_CPack_Packages/cpack.log"
mkdir -p "$(dirname "$log")"
if ! (cd "$build" && cpack -G DEB -B "$out" --config CPackConfig.cmake) >"$log" 2>&1; then
  cat "$log" >&2
  echo "package.sh: cpack failed (log above)" >&2
  exit 1
fi
version=$(sed -n 's/^set(CPACK_PACKAGE_VERSION "\(.*\)")$/\1/p' "$build/CPackConfig.cmake")
deb="$out/concierge_${version}_$(dpkg --print-architecture).deb"
[ -f "$deb" ] || { cat "$log" >&2; echo "package.sh: cpack made no $deb" >&2; exit 1; }
echo "$deb"
