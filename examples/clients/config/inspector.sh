#!/usr/bin/env bash
# The MCP Inspector's command line (--cli) against Concierge, over stdio or Streamable HTTP.
#
#   ./inspector.sh stdio BINARY [INSPECTOR ARGS...]          e.g. /usr/bin/concierge
#   CONCIERGE_TOKEN=KEY ./inspector.sh http URL [INSPECTOR ARGS...]   e.g. http://127.0.0.1:8080/mcp
#
# INSPECTOR ARGS default to `--method tools/list`; others: `--method tools/call --tool-name echo
# --tool-arg text=hi`, `--method resources/read --uri concierge://preferences`. Prints the
# result as JSON. Uses the inspector pinned here (npm ci in this folder), else fetches that
# version with npx. Needs Node >= 22.19.
set -euo pipefail
usage="usage: inspector.sh stdio BINARY | http URL [INSPECTOR ARGS...]"
mode=${1:?$usage}
target=${2:?$usage}
shift 2
(($#)) || set -- --method tools/list
inspector=("$(dirname "$0")/node_modules/.bin/mcp-inspector")
[ -x "${inspector[0]}" ] || inspector=(npx -y @modelcontextprotocol/inspector@2.12.0)

case "$mode" in
  stdio)
    # The inspector starts the server with a minimal environment: pass the data directory on.
    env_args=()
    [ -n "${CONCIERGE_DATA_DIR:-}" ] && env_args=(-e "CONCIERGE_DATA_DIR=$CONCIERGE_DATA_DIR")
    exec "${inspector[@]}" --cli "$target" serve "${env_args[@]}" "$@" ;;
  http)
    auth=()
    [ -n "${CONCIERGE_TOKEN:-}" ] && auth=(--header "Authorization: Bearer $CONCIERGE_TOKEN")
    exec "${inspector[@]}" --cli "$target" --transport http "${auth[@]}" "$@" ;;
  *) echo "inspector.sh: mode: expected stdio or http, not '$mode'" >&2; echo "$usage" >&2; exit 2 ;;
esac
