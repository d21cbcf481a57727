#!/usr/bin/env bash
# Concierge over HTTP, revision 2026-07-28 (stateless), with curl: one POST per request, no
# initialize, no session. Each body carries the protocol version and client capabilities in
# params._meta; the headers mirror the body (MCP-Protocol-Version, Mcp-Method, and Mcp-Name for
# tools/call, resources/read, prompts/get), else the server answers 400 with -32020.
#
#   ./stateless.sh URL                      e.g. http://127.0.0.1:8080/mcp
#   CONCIERGE_TOKEN=KEY ./stateless.sh URL  a server with --auth: the API key as a bearer token
#
# Prints each JSON-RPC reply on its own line, after a "# method" line.
set -euo pipefail
url=${1:?usage: stateless.sh URL (the MCP endpoint, e.g. http://127.0.0.1:8080/mcp)}
auth=()
[ -n "${CONCIERGE_TOKEN:-}" ] && auth=(-H "Authorization: Bearer $CONCIERGE_TOKEN")
meta='"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28","io.modelcontextprotocol/clientCapabilities":{},"io.modelcontextprotocol/clientInfo":{"name":"curl","version":"1.0.0"}}'
common=(-sS --fail-with-body -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream'
        -H 'MCP-Protocol-Version: 2026-07-28' "${auth[@]}")

echo '# server/discover'
curl "${common[@]}" -H 'Mcp-Method: server/discover' "$url" \
  -d '{"jsonrpc":"2.0","id":1,"method":"server/discover","params":{'"$meta"'}}'
echo

echo '# tools/list'
curl "${common[@]}" -H 'Mcp-Method: tools/list' "$url" \
  -d '{"jsonrpc":"2.0","id":2,"method":"tools/list","params":{'"$meta"'}}'
echo

echo '# resources/read concierge://preferences'
curl "${common[@]}" -H 'Mcp-Method: resources/read' -H 'Mcp-Name: concierge://preferences' "$url" \
  -d '{"jsonrpc":"2.0","id":3,"method":"resources/read","params":{"uri":"concierge://preferences",'"$meta"'}}'
echo

echo '# tools/call calendar_list_events'
curl "${common[@]}" -H 'Mcp-Method: tools/call' -H 'Mcp-Name: calendar_list_events' "$url" \
  -d '{"jsonrpc":"2.0","id":4,"method":"tools/call","params":{"name":"calendar_list_events","arguments":{"max_results":3},'"$meta"'}}'
echo
