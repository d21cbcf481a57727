"""What both Python examples do once connected, whatever the transport.

`request(method, params)` sends one request and returns its result (an error reply ends the
program)."""
import sys


def list_tools(request):
    """tools/list, following nextCursor; prints the count, then one `tool: NAME` line each."""
    tools, cursor = [], None
    while True:
        page = request("tools/list", {"cursor": cursor} if cursor else {})
        tools += page["tools"]
        cursor = page.get("nextCursor")
        if not cursor:
            break
    print(f"tools: {len(tools)}")
    for tool in tools:
        print(f"tool: {tool['name']}")


def list_events(request):
    """tools/call calendar_list_events (the default window: this week); prints its text."""
    result = request("tools/call", {"name": "calendar_list_events", "arguments": {}})
    if result.get("isError"):
        sys.exit(f"calendar_list_events failed: {result['content'][0]['text']}")
    print(f"calendar_list_events: {result['content'][0]['text']}")
