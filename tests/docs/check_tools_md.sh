#!/usr/bin/env bash
# docs/tools.md is what the binary says about its tools: fails, with the difference and the
# command that regenerates the file, when a tool or a schema changed and the page did not.
#   tests/docs/check_tools_md.sh BINARY SOURCE_DIR
set -euo pipefail
bin=$1 src=$2
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$bin" tools --markdown > "$tmp"
if ! diff -u "$src/docs/tools.md" "$tmp" > "$tmp.diff"; then
  head -60 "$tmp.diff"
  rm -f "$tmp.diff"
  echo "docs/tools.md is stale. Regenerate it: build/concierge tools --markdown > docs/tools.md" >&2
  exit 1
fi
rm -f "$tmp.diff"
echo "docs/tools.md matches the binary ($(grep -c '^### ' "$tmp") tools)"
