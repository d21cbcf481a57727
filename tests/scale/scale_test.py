#!/usr/bin/env python3
"""Two instances on one data directory behind nginx (tests/scale/cluster.py), one scenario a run:

    scale_test.py sessions  CONCIERGE NODE22    the TS SDK client's handshake-era sessions
    scale_test.py legacy    CONCIERGE           2024-11-05 HTTP+SSE sessions routed by ?sessionId=
    scale_test.py bookings  CONCIERGE           20 concurrent bookings of one slot: exactly one
    scale_test.py sigkill   CONCIERGE           8 clients; one instance SIGKILLed mid-run
    scale_test.py listen    CONCIERGE           a listen stream on one hears a change made on the other
    scale_test.py mrtr      CONFORMANCE_SERVER  a multi-round-trip retry on the other instance
    scale_test.py conformance CONFORMANCE_SERVER REQUIREMENTS   the official suite through nginx

--postgres after the arguments: the same on a PostgreSQL of the run's own, each instance with a
data directory of its own, as on several machines (Cluster's postgres=True).
"""
import http.client
import json
import os
import re
import subprocess
import sys
import threading
import time
import urllib.request

from cluster import META, PROTOCOL_VERSION, ROOT, Cluster as _Cluster, fail, stateless, text_of, wait_until

POSTGRES = False  # --postgres


def Cluster(binary, **kw):
    return _Cluster(binary, postgres=POSTGRES and kw.get("kind", "concierge") == "concierge", **kw)


def metric(url_base, name, labels):
    """A counter's value on one instance's /metrics (0 when the series is absent)."""
    with urllib.request.urlopen(url_base + "/metrics", timeout=10) as res:
        text = res.read().decode()
    want = ",".join(f'{k}="{v}"' for k, v in labels.items())
    for line in text.splitlines():
        if line.startswith(name + "{") and want in line:
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def base(inst):
    return f"http://127.0.0.1:{inst.port}"


def sessions(binary, node):
    """The official TS SDK client (examples/clients/typescript) opens handshake-era sessions
    through nginx, six times: the balancer spreads the initializes over both instances, and every
    later request of a session must reach the instance holding it (another one answers 404)."""
    client = os.path.join(ROOT, "examples", "clients", "typescript", "client.ts")
    with Cluster(binary) as c:
        for i in range(6):
            run = subprocess.run([node, client, "http", c.url], capture_output=True, text=True, timeout=60)
            if run.returncode != 0 or "calendar_list_events" not in run.stdout:
                fail(f"client run {i} through nginx failed ({run.returncode}):\n{run.stdout}\n{run.stderr}\n{c.logs()}")
        inits = {n: metric(base(i), "concierge_requests_total", {"method": "initialize", "outcome": "ok"}) for n, i in c.instances.items()}
        calls = {n: metric(base(i), "concierge_requests_total", {"method": "tools/call", "outcome": "ok"}) for n, i in c.instances.items()}
        print("initialize per instance:", inits, "tools/call per instance:", calls)
        if sum(inits.values()) != 6:
            fail(f"expected 6 sessions, the instances counted {inits}")
        if min(inits.values()) == 0:
            fail(f"every session landed on one instance: {inits} (the balancer did not spread them)")
        # Each session made its calls where it was opened: calls follow the sessions.
        for n in inits:
            if calls[n] < inits[n]:
                fail(f"instance {n} opened {inits[n]} sessions but served {calls[n]} calls")


def legacy(binary):
    """The 2024-11-05 HTTP+SSE transport through nginx: GET /sse goes to either instance, and each
    POST /messages?sessionId= must reach the one holding that stream (routed by the argument)."""
    with Cluster(binary) as c:
        seen = set()
        for n in range(6):
            conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
            conn.request("GET", "/sse", headers={"Accept": "text/event-stream"})
            res = conn.getresponse()
            if res.status != 200:
                fail(f"GET /sse through nginx: HTTP {res.status}")
            endpoint = None
            while endpoint is None:
                line = res.fp.readline().decode()
                if not line:
                    fail("the /sse stream ended before its endpoint event")
                if line.startswith("data:") and "/messages" in line:
                    endpoint = line[5:].strip()
            seen.add(endpoint.split("sessionId=")[1].split(".")[0])
            body = {"jsonrpc": "2.0", "id": n + 1, "method": "initialize",
                    "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": {"name": "scale", "version": "1"}}}
            post_conn = http.client.HTTPConnection("127.0.0.1", c.port, timeout=10)
            post_conn.request("POST", endpoint, json.dumps(body), {"Content-Type": "application/json"})
            accepted = post_conn.getresponse()
            accepted.read()
            if accepted.status != 202:
                fail(f"POST {endpoint} through nginx: HTTP {accepted.status} (routed to the wrong instance?)")
            reply = next_event(res)
            if not reply or reply.get("id") != n + 1 or "result" not in reply:
                fail(f"no initialize reply on the stream: {reply}")
            post_conn.close()
            conn.close()
        if seen != {"a", "b"}:
            fail(f"every stream landed on {seen}: the balancer did not spread them")
        print(f"6 legacy sessions through nginx, on instances {sorted(seen)}; every POST reached its stream")


def find_slot(url):
    types = stateless(url, "tools/call", {"name": "booking_list_event_types", "arguments": {}})
    if types.error or types.result.get("isError"):
        fail(f"booking_list_event_types: {types.message}")
    event_type = types.result["structuredContent"]["event_types"][0]["id"]
    slots = stateless(url, "tools/call", {"name": "booking_find_slots", "arguments": {"event_type": event_type}})
    if slots.error or slots.result.get("isError"):
        fail(f"booking_find_slots: {slots.message}")
    return event_type, slots.result["structuredContent"]["slots"][0]["start"]


def bookings(binary):
    """20 attempts at one slot at once, 10 sent to each instance directly (so both take part
    whatever the balancer does): one booking, 19 refusals naming the slot as taken."""
    with Cluster(binary) as c:
        event_type, start = find_slot(c.url)
        targets = [inst.url for inst in c.instances.values()] * 10
        results = [None] * len(targets)
        barrier = threading.Barrier(len(targets))

        def attempt(k):
            args = {"event_type": event_type, "start": start,
                    "attendee": {"name": f"Guest {k}", "email": f"guest{k}@example.org", "time_zone": "UTC"}}
            barrier.wait()
            results[k] = stateless(targets[k], "tools/call", {"name": "booking_create", "arguments": args}, request_id=k + 1)

        threads = [threading.Thread(target=attempt, args=(k,)) for k in range(len(targets))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        ok = [r for r in results if r.result and not r.result.get("isError")]
        taken = [r for r in results if r.result and r.result.get("isError") and "no longer free" in text_of(r.result)]
        other = [r.message for r in results if r not in ok and r not in taken]
        print(f"booked {len(ok)}, refused as taken {len(taken)}, other {len(other)}")
        if len(ok) != 1 or len(taken) != 19:
            fail(f"expected 1 booking and 19 slot-taken refusals; others: {json.dumps(other)[:1500]}")
        listed = stateless(c.url, "tools/call", {"name": "booking_list", "arguments": {}})
        mine = [b for b in listed.result["structuredContent"]["bookings"] if b["start"] == start]
        if len(mine) != 1:
            fail(f"the slot holds {len(mine)} bookings: {mine}")


def sigkill(binary):
    """8 clients call `echo` (2026-07-28, stateless) through nginx, each message unique; instance a
    is SIGKILLed part way. Only requests in flight at the kill may fail; b serves the rest; every
    acknowledged call reaches the history (b takes a's journal in)."""
    per_client, clients = 60, 8
    with Cluster(binary) as c:
        a = c.instances["a"]
        acked, failures = [], []
        lock = threading.Lock()
        started = threading.Barrier(clients + 1)
        killed_at = [None]
        progress = [0]

        def client(n):
            started.wait()
            for i in range(per_client):
                msg = f"scale-{n}-{i}"
                t0 = time.monotonic()
                r = stateless(c.url, "tools/call", {"name": "echo", "arguments": {"text": msg}}, request_id=i + 1)
                t1 = time.monotonic()
                with lock:
                    progress[0] += 1
                    if r.status == 200 and r.result and text_of(r.result) == msg:
                        acked.append(msg)
                    else:
                        failures.append((t0, t1, r.status, json.dumps(r.message)[:200]))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
        for t in threads:
            t.start()
        started.wait()
        wait_until("a third of the calls", lambda: progress[0] >= per_client * clients // 3, timeout=60)
        a.kill()
        killed_at[0] = time.monotonic()
        for t in threads:
            t.join()
        print(f"acknowledged {len(acked)} of {per_client * clients}; failed {len(failures)}")
        if len(acked) + len(failures) != per_client * clients:
            fail("a client thread stopped early")
        late = [f for f in failures if f[0] > killed_at[0]]
        if late:
            fail(f"{len(late)} request(s) sent after the kill failed: {late[:5]}")
        if len(failures) > clients:
            fail(f"{len(failures)} failures, more than the {clients} requests that can be in flight: {failures[:5]}")
        # b is still serving, and takes a's journal in within its recovery period.
        after = stateless(c.url, "tools/call", {"name": "echo", "arguments": {"text": "after"}})
        if text_of(after.result) != "after":
            fail(f"the surviving instance did not answer: {after.message}")
        if c.database:
            # a's journal is in a's own data directory, as on its own machine: a's restart takes
            # it in (systemd's Restart= would do the same), where one shared directory lets b.
            c.restart("a")

        def recorded():
            rows = c.sql("SELECT arguments FROM history WHERE tool = 'echo'")
            return {json.loads(r[0]).get("text") for r in rows if r[0]}

        missing = []

        def all_there():
            missing[:] = sorted(set(acked) - recorded())
            return not missing

        wait_until("every acknowledged call in the history", all_there, timeout=30)
        taker = "a" if c.database else "b"
        recovered = re.findall(r"history: (\d+) call\(s\) recovered", open(c.instances[taker].log_path, errors="replace").read())
        print(f"all {len(acked)} acknowledged calls are in the history; {taker} took in {sum(map(int, recovered))} from a's journal")


def open_listen(inst, uris):
    """subscriptions/listen (2026-07-28) on one instance: the open response, once acknowledged."""
    body = {"jsonrpc": "2.0", "id": 1, "method": "subscriptions/listen",
            "params": {"notifications": {"resourceSubscriptions": uris}, "_meta": META}}
    conn = http.client.HTTPConnection("127.0.0.1", inst.port, timeout=10)
    conn.request("POST", "/mcp", json.dumps(body), {
        "Content-Type": "application/json", "Accept": "application/json, text/event-stream",
        "MCP-Protocol-Version": PROTOCOL_VERSION, "Mcp-Method": "subscriptions/listen"})
    res = conn.getresponse()
    if res.status != 200:
        fail(f"subscriptions/listen on {inst.name}: HTTP {res.status} {res.read()[:300]}")
    first = next_event(res)
    if not first or first.get("method") != "notifications/subscriptions/acknowledged":
        fail(f"subscriptions/listen on {inst.name} was not acknowledged: {first}")
    return conn, res


def next_event(res):
    """The next SSE event's JSON (comment lines and blank data skipped); None at the end."""
    data = []
    while True:
        line = res.fp.readline()
        if not line:
            return None
        line = line.decode().rstrip("\r\n")
        if line.startswith("data:"):
            data.append(line[5:].strip())
        elif line == "" and data:
            text = "".join(data)
            data = []
            if text:
                return json.loads(text)


def listen(binary):
    """A subscriptions/listen stream on a hears of a preferences change made through b (and a
    stream on b of one made through a): instances share changes through the data directory."""
    uri = "concierge://preferences"
    with Cluster(binary) as c:
        for here, there, zone in (("a", "b", "Asia/Tokyo"), ("b", "a", "America/Lima")):
            conn, res = open_listen(c.instances[here], [uri])
            t0 = time.monotonic()
            changed = stateless(c.instances[there].url, "tools/call", {"name": "preferences_update", "arguments": {"time_zone": zone}})
            if not changed.result or changed.result.get("isError"):
                fail(f"preferences_update on {there}: {changed.message}")
            event = next_event(res)  # the socket's 10 s timeout bounds the wait
            if not event or event.get("method") != "notifications/resources/updated" or event["params"].get("uri") != uri:
                fail(f"the stream on {here} got {event} instead of an update of {uri}")
            print(f"update through {there} reached the stream on {here} in {time.monotonic() - t0:.3f} s")
            conn.close()


def mrtr(fixture):
    """A two-round tool (the conformance fixture's) asked on a, answered on b, finished on a: each
    instance opens the requestState the other sealed, with the key they share."""
    tool = "test_input_required_result_multi_round"
    with Cluster(fixture, kind="fixture") as c:
        a, b = c.instances["a"], c.instances["b"]

        def answer(reply, key, field, value):
            if not reply.result or reply.result.get("resultType") != "input_required" or key not in reply.result.get("inputRequests", {}):
                fail(f"expected a request for {key}: {reply.message}")
            return {"name": tool, "arguments": {}, "requestState": reply.result["requestState"],
                    "inputResponses": {key: {"action": "accept", "content": {field: value}}}}

        first = stateless(a.url, "tools/call", {"name": tool, "arguments": {}})
        second = stateless(b.url, "tools/call", answer(first, "step1", "name", "Scale"), request_id=2)
        retry = answer(second, "step2", "color", "teal")
        third = stateless(a.url, "tools/call", retry, request_id=3)
        if text_of(third.result) != "Multi-round complete for Scale who likes teal":
            fail(f"the last round on a did not finish the call: {third.message}")
        print("asked on a, answered on b, finished on a:", text_of(third.result))
        # The check can fail: an altered state is refused by the instance that did not seal it.
        state = retry["requestState"]
        forged = dict(retry, requestState=state[:-6] + ("AAAAAA" if not state.endswith("AAAAAA") else "BBBBBB"))
        refused = stateless(b.url, "tools/call", forged, request_id=4)
        if not refused.error or "requestState" not in refused.error.get("message", ""):
            fail(f"an altered requestState was accepted: {refused.message}")


def conformance(fixture, requirements):
    with Cluster(fixture, kind="fixture") as c:
        run = subprocess.run(["bash", os.path.join(ROOT, "tests", "conformance", "run.sh"), requirements, c.url], timeout=600)
        if run.returncode != 0:
            print(c.logs(), file=sys.stderr)
            sys.exit(run.returncode)


def main():
    global POSTGRES
    if sys.argv[-1] == "--postgres":
        POSTGRES = True
        sys.argv.pop()
    if len(sys.argv) < 3:
        fail(__doc__)
    scenario, args = sys.argv[1], sys.argv[2:]
    {"sessions": sessions, "legacy": legacy, "bookings": bookings, "sigkill": sigkill, "listen": listen, "mrtr": mrtr, "conformance": conformance}[scenario](*args)


if __name__ == "__main__":
    main()
