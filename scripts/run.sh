#!/usr/bin/env bash
# Sets everything up and runs the server on its embedded default (SQLite, with the demo data
# filled into an empty store), over stdio.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh --no-npm >&2
cmake -S . -B build -G Ninja >&2
cmake --build build >&2
exec ./build/concierge serve --demo "$@"
