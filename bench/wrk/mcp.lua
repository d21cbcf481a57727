-- wrk script for bench/run.sh: POSTs `tools/call echo {"text":"hello"}` and writes wrk's figures
-- as one JSON object to $BENCH_RESULT when the run ends.
--
-- Environment:
--   BENCH_KIND      modern  : 2026-07-28 stateless request (MCP-Protocol-Version, Mcp-Method,
--                             Mcp-Name headers; _meta with protocolVersion and clientCapabilities)
--                   stateless: the stateless request an SDK 1.x client sends (MCP-Protocol-Version
--                             2025-06-18, no session, no _meta) - the TS SDK peer's stateless mode
--                   session : 2025-06-18 request on a session (Mcp-Session-Id from BENCH_SESSIONS)
--   BENCH_SESSIONS  comma-separated Mcp-Session-Id values (session kind); requests go round-robin
--                   over them so the load is spread like that of many clients
--   BENCH_RESULT    file the JSON result is appended to (one line)
--   BENCH_TOKEN     when set, sent as `Authorization: Bearer <token>` on every request
--
-- Every kind goes through request() with pre-formatted requests, so wrk does the same work per
-- request whatever the target (nginx included). JSON-RPC ids differ between requests so that no two
-- requests in flight on one session share an id.

local kind = os.getenv("BENCH_KIND") or "modern"
local sessions = {}
for s in string.gmatch(os.getenv("BENCH_SESSIONS") or "", "[^,]+") do sessions[#sessions + 1] = s end

local token = os.getenv("BENCH_TOKEN") or ""
-- The tool called and its arguments (JSON): echo by default; bench/instances.py also times a
-- read (calendar_list_events) and a write (preferences_update) of the store.
local tool = os.getenv("BENCH_TOOL") or "echo"
local arguments = os.getenv("BENCH_ARGS") or '{"text":"hello"}'

local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("thread_no", counter)
end

local requests = {}
local n = 0
local cycle = 1024

local function body(id)
  local meta = ""
  if kind == "modern" then
    meta = ',"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-07-28",' ..
           '"io.modelcontextprotocol/clientCapabilities":{}}'
  end
  return '{"jsonrpc":"2.0","id":' .. id .. ',"method":"tools/call","params":{"name":"' .. tool .. '",' ..
         '"arguments":' .. arguments .. meta .. '}}'
end

function init(args)
  local t = thread_no or 1
  for i = 1, cycle do
    local h = {
      ["Host"] = wrk.headers["Host"],
      ["Content-Type"] = "application/json",
      ["Accept"] = "application/json, text/event-stream",
    }
    if token ~= "" then h["Authorization"] = "Bearer " .. token end
    if kind == "modern" then
      h["MCP-Protocol-Version"] = "2026-07-28"
      h["Mcp-Method"] = "tools/call"
      h["Mcp-Name"] = tool
    else
      h["MCP-Protocol-Version"] = "2025-06-18"
    end
    if kind == "session" then
      if #sessions == 0 then error("BENCH_KIND=session needs BENCH_SESSIONS") end
      h["Mcp-Session-Id"] = sessions[((t - 1) * 7 + i - 1) % #sessions + 1]
    end
    requests[i] = wrk.format("POST", wrk.path, h, body(t * 1000000 + i))
  end
end

function request()
  n = n % cycle + 1
  return requests[n]
end

function done(summary, latency, reqs)
  local e = summary.errors
  local line = string.format(
    '{"requests":%d,"duration_us":%d,"bytes":%d,' ..
    '"errors":{"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d},' ..
    '"latency_us":{"p50":%d,"p90":%d,"p99":%d,"p999":%d,"mean":%.1f,"max":%d}}\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency:percentile(99.9),
    latency.mean, latency.max)
  local path = os.getenv("BENCH_RESULT")
  if path then
    local f = assert(io.open(path, "a"))
    f:write(line)
    f:close()
  else
    io.write(line)
  end
end
