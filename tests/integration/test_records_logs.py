"""Invocation records (GET /v1/invocations, `nimbus invocations`) and persisted function
logs (GET /v1/logs, `nimbus logs -f`): filters and paging, async attempts, correlation
ids, follow mode, retention that really deletes, and caps that keep a function printing
100 MB from harming anyone else."""
import json
import os
import re
import subprocess
import threading
import time

import requests

import nimbus_helpers as h
from conftest import make_lambda_client, nimbus_bin

CHATTY = '''
import sys
def flood(event, context):
    chunk = ("y" * 1023 + "\\n") * 1024          # 1 MB in 1 KB lines
    for _ in range(int(event.get("mb", 100))):
        sys.stdout.write(chunk)
    sys.stdout.flush()
    return {"ok": True}
def long_line(event, context):
    sys.stdout.write("L" * (1024 * 1024) + "\\n")  # one 1 MB line
    sys.stdout.write("after the long line\\n")
    sys.stdout.flush()
    return {"ok": True}
'''


class Api:
    def __init__(self, srv):
        self.srv = srv
        self.s = requests.Session()
        self.s.headers["Authorization"] = srv.bearer

    def invoke(self, name, event=None, headers=None, **kw):
        return self.s.post(f"{self.srv.url}/2015-03-31/functions/{name}/invocations",
                           data=json.dumps(event or {}), headers=headers or {}, timeout=120, **kw)

    def records(self, **params):
        r = self.s.get(self.srv.url + "/v1/invocations", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()

    def logs(self, **params):
        r = self.s.get(self.srv.url + "/v1/logs", params=params, timeout=10)
        assert r.status_code == 200, r.text
        return r.json()


def _create(lam, zip_bytes, handler="app.main", **kw):
    name = h.unique_name("obs")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE, Handler=handler,
                        Code={"ZipFile": zip_bytes}, **kw)
    h.wait_ready(lam, name)
    return name


def _cli(srv, *args, timeout=60):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NIMBUS_") and not k.startswith("AWS_")}
    env.update(NIMBUS_ACCESS_KEY_ID=srv.access_key, NIMBUS_SECRET_ACCESS_KEY=srv.secret_key,
               NIMBUS_ENDPOINT=srv.url)
    return subprocess.run([str(nimbus_bin()), *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def _all_records(api, **params):
    records = api.records(**params)
    return records["invocations"]


def test_records_filters_and_paging(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, zip_of("python3.11"))
    other = _create(lam, zip_of("python3.11"))
    before = int(time.time() * 1000)
    ids = []
    for i in range(7):
        r = api.invoke(fn, {"action": "fail"} if i in (2, 5) else {})
        assert r.status_code == 200
        ids.append(r.headers["x-amzn-RequestId"])
    assert api.invoke(other, {}).status_code == 200

    h.wait_until(lambda: len(_all_records(api, function=fn)) == 7, 10, "7 records")
    recs = _all_records(api, function=fn)
    assert [r["request_id"] for r in recs] == ids[::-1]  # newest first
    first = recs[-1]
    assert first["cold_start"] is True and first["init_duration_ms"] > 0
    assert all(r["cold_start"] is False for r in recs[:-1])
    for r in recs:
        assert r["function"] == fn and r["version"] == "$LATEST" and r["trigger"] == "sync"
        assert r["attempt"] == 1 and r["instance_id"] == first["instance_id"]
        assert r["billed_duration_ms"] >= 1 and r["max_memory_used_mb"] > 0
        # The W3C trace id (32 hex), which is also the X-Ray Root (1-<8 hex>-<24 hex>).
        assert re.fullmatch(r"[0-9a-f]{32}", r["trace_id"]) and r["correlation_id"]
        assert r["start_ms"] >= before

    errors = _all_records(api, function=fn, outcome="function_error")
    assert sorted(r["request_id"] for r in errors) == sorted([ids[2], ids[5]])
    assert all(r["error_type"] == "ValueError" for r in errors)
    assert len(_all_records(api, function=fn, outcome="success")) == 5
    one = _all_records(api, request_id=ids[3])
    assert [r["request_id"] for r in one] == [ids[3]]
    # Time window: from the third record's start, before the fifth's.
    t3, t5 = recs[::-1][2]["start_ms"], recs[::-1][4]["start_ms"]
    window = _all_records(api, function=fn, since=t3, until=t5)
    # since is inclusive, until exclusive; warm invokes can start in the same millisecond,
    # so the expected set comes from the records' own start times.
    expected = [r["request_id"] for r in recs if t3 <= r["start_ms"] < t5]
    assert ids[2] in expected
    assert [r["request_id"] for r in window] == expected
    # Every function when none is named.
    h.wait_until(lambda: len(_all_records(api)) == 8, 10, "8 records in all")

    # Paging: 3 + 3 + 1, no repeats, then no token.
    seen, token, pages = [], None, 0
    while True:
        params = {"function": fn, "limit": 3}
        if token:
            params["next"] = token
        page = api.records(**params)
        seen += [r["request_id"] for r in page["invocations"]]
        pages += 1
        token = page.get("next")
        if not token:
            break
    assert seen == ids[::-1] and pages == 3
    bad = api.s.get(srv.url + "/v1/invocations", params={"next": "garbage"}, timeout=5)
    assert bad.status_code == 400
    assert api.s.get(srv.url + "/v1/invocations", timeout=5, headers={
        "Authorization": ""}).status_code == 403

    # The CLI shows the same records.
    out = _cli(srv, "invocations", fn, "--outcome", "function_error")
    assert out.returncode == 0, out.stderr
    assert ids[2] in out.stdout and ids[5] in out.stdout and ids[0] not in out.stdout
    assert "OUTCOME" in out.stdout and "ValueError" in out.stdout
    out = _cli(srv, "invocations", fn, "--limit", "4", "--json")
    assert out.returncode == 0, out.stderr
    assert [r["request_id"] for r in json.loads(out.stdout)["invocations"]] == ids[::-1][:4]


def test_correlation_id_and_throttle_records(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, zip_of("python3.11"))
    r = api.invoke(fn, {}, headers={"X-Correlation-Id": "order-4711"})
    assert r.headers["X-Correlation-Id"] == "order-4711"
    generated = api.invoke(fn, {}).headers["X-Correlation-Id"]
    assert len(generated) == 36
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    throttled = api.invoke(fn, {}, headers={"X-Correlation-Id": "t-1"})
    assert throttled.status_code == 429 and throttled.headers["X-Correlation-Id"] == "t-1"
    recs = h.wait_until(lambda: len(_all_records(api, function=fn)) == 3 and
                        _all_records(api, function=fn), 10, "3 records")
    assert [r["correlation_id"] for r in recs] == ["t-1", generated, "order-4711"]
    assert recs[0]["outcome"] == "throttled"
    assert recs[0]["error_type"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_correlation_id_reaches_the_function_and_every_async_attempt(custom_server, zip_of):
    srv = custom_server("--async-retry-base-ms", "50", "--async-retry-cap-ms", "100")
    lam = make_lambda_client(srv)
    api = Api(srv)
    py = _create(lam, zip_of("python3.11"))
    node = h.unique_name("obs")
    lam.create_function(FunctionName=node, Runtime="nodejs20.x", Role=h.ROLE,
                        Handler="index.main", Code={"ZipFile": zip_of("nodejs20.x")})
    h.wait_ready(lam, node)
    for fn in (py, node):
        r = api.invoke(fn, {"action": "info"}, headers={"X-Correlation-Id": "order-" + fn})
        assert r.status_code == 200, r.text
        assert r.json()["correlation_id"] == "order-" + fn, r.text
    # Async: the id is stored with the event, so each retry carries it (and its record).
    lam.put_function_event_invoke_config(FunctionName=py, MaximumRetryAttempts=1)
    r = api.invoke(py, {"action": "fail"}, headers={"X-Amz-Invocation-Type": "Event",
                                                  "X-Correlation-Id": "batch-7"})
    assert r.status_code == 202 and r.headers["X-Correlation-Id"] == "batch-7"
    rid = r.headers["x-amzn-RequestId"]
    recs = h.wait_until(lambda: len(_all_records(api, request_id=rid)) == 2 and
                        _all_records(api, request_id=rid), 30, "2 async attempts")
    assert [r["correlation_id"] for r in recs] == ["batch-7", "batch-7"], recs
    assert sorted(r["attempt"] for r in recs) == [1, 2]


def test_async_attempts_each_leave_a_record(custom_server, zip_of):
    srv = custom_server("--async-retry-base-ms", "50", "--async-retry-cap-ms", "100")
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, zip_of("python3.11"))
    lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=2)
    r = api.invoke(fn, {"action": "fail"}, headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 202
    rid = r.headers["x-amzn-RequestId"]
    recs = h.wait_until(lambda: len(_all_records(api, request_id=rid)) == 3 and
                        _all_records(api, request_id=rid), 30, "three attempts")
    assert sorted(r["attempt"] for r in recs) == [1, 2, 3]
    assert {r["trigger"] for r in recs} == {"async"}
    assert {r["outcome"] for r in recs} == {"function_error"}


def test_logs_by_request_id_and_follow(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, zip_of("python3.11"))
    r = api.invoke(fn, {"action": "log", "marker": "first-marker", "extra_lines": 3})
    rid = r.headers["x-amzn-RequestId"]

    def lines_of(request_id):
        events = api.logs(function=fn, request_id=request_id, limit=100)["events"]
        return events if any(e["message"].startswith("REPORT") for e in events) else None

    events = h.wait_until(lambda: lines_of(rid), 10, "the invocation's log lines")
    messages = [e["message"] for e in events]
    assert messages[0].startswith("START RequestId: " + rid)
    assert any("python-stdout first-marker" in m for m in messages)
    assert any("python-stderr first-marker" in m for m in messages)
    assert sum("filler line" in m for m in messages) == 3
    assert messages[-1].startswith("REPORT RequestId: " + rid)
    assert {e["request_id"] for e in events} == {rid}  # the id is on every line
    assert all(e["function"] == fn for e in events)
    # since: nothing from the future.
    assert api.logs(function=fn, since=int(time.time() * 1000) + 60000)["events"] == []
    # The old per-function endpoint still works.
    old = api.s.get(f"{srv.url}/v1/functions/{fn}/logs", timeout=5).json()
    assert any("first-marker" in e["message"] for e in old["events"])

    # `nimbus logs -f` prints what is there, then follows new lines as they come.
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NIMBUS_") and not k.startswith("AWS_")}
    env.update(NIMBUS_ACCESS_KEY_ID=srv.access_key, NIMBUS_SECRET_ACCESS_KEY=srv.secret_key,
               NIMBUS_ENDPOINT=srv.url)
    follower = subprocess.Popen([str(nimbus_bin()), "logs", fn, "-f"], env=env,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    out = []
    reader = threading.Thread(target=lambda: out.extend(iter(follower.stdout.readline, "")),
                              daemon=True)
    reader.start()
    try:
        h.wait_until(lambda: any("first-marker" in line for line in out), 10,
                     "the follower to print the existing lines")
        api.invoke(fn, {"action": "log", "marker": "second-marker"})
        h.wait_until(lambda: any("second-marker" in line for line in out), 10,
                     "the follower to print the new line")
        assert sum("first-marker" in line for line in out) == 2  # stdout + stderr, once each
    finally:
        follower.terminate()
        follower.wait(timeout=10)


def test_retention_really_deletes(custom_server, zip_of):
    srv = custom_server("--records-max", "5", "--logs-max-bytes", "2048",
                        "--retention-sweep-seconds", "1")
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, zip_of("python3.11"))
    ids = [api.invoke(fn, {"action": "log", "marker": "m" * 100}).headers["x-amzn-RequestId"]
           for _ in range(10)]

    def kept():
        recs = _all_records(api, function=fn)
        return recs if len(recs) == 5 else None

    recs = h.wait_until(kept, 15, "the count limit to be enforced")
    assert [r["request_id"] for r in recs] == ids[::-1][:5]  # the newest stay

    def log_bytes():
        events = api.logs(function=fn, limit=10000)["events"]
        total = sum(len(e["message"].encode()) for e in events)
        return (events, total) if total <= 2048 else None

    events, _ = h.wait_until(log_bytes, 15, "the log size limit to be enforced")
    assert events and events[-1]["request_id"] == ids[-1]  # the newest lines stay
    assert not any(e["request_id"] == ids[0] for e in events)


def test_retention_by_age(custom_server, zip_of):
    # 0.0005 h = 1.8 s.
    srv = custom_server("--records-retention-hours", "0.0005", "--logs-retention-hours",
                        "0.0005", "--retention-sweep-seconds", "1")
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, zip_of("python3.11"))
    api.invoke(fn, {"action": "log", "marker": "aging"})
    h.wait_until(lambda: len(_all_records(api, function=fn)) == 1, 5, "the record")
    h.wait_until(lambda: not _all_records(api, function=fn), 15, "the record to age out")
    h.wait_until(lambda: not api.logs(function=fn)["events"], 15, "the lines to age out")


def test_a_function_printing_100_mb_is_capped_and_others_still_work(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    api = Api(srv)
    chatty = _create(lam, h.zip_files({"chatty.py": CHATTY}), handler="chatty.flood",
                     Timeout=120, MemorySize=256)
    calm = _create(lam, zip_of("python3.11"))
    assert api.invoke(calm, {}).status_code == 200  # warm it

    result = {}
    flood = threading.Thread(target=lambda: result.update(r=api.invoke(chatty, {"mb": 100})))
    started = time.monotonic()
    flood.start()
    latencies = []
    while flood.is_alive() or not latencies:
        t = time.monotonic()
        r = api.invoke(calm, {"action": "log", "marker": "calm"})
        assert r.status_code == 200 and "X-Amz-Function-Error" not in r.headers
        latencies.append(time.monotonic() - t)
        time.sleep(0.05)
    flood.join()
    r = result["r"]
    assert r.status_code == 200, r.text
    assert r.json() == {"ok": True}
    elapsed = time.monotonic() - started
    assert max(latencies) < 2.0, (latencies, elapsed)
    rid = r.headers["x-amzn-RequestId"]

    def stored():
        events = api.logs(request_id=rid, limit=10000)["events"]
        return events if any(e["message"].startswith("REPORT") for e in events) else None

    events = h.wait_until(stored, 15, "the capped log to be stored")
    total = sum(len(e["message"]) + 1 for e in events)
    assert total < 1.1 * 1024 * 1024, total
    notices = [e for e in events if e["message"].startswith("[nimbus] output truncated")]
    assert len(notices) == 1
    # The calm function's lines were all kept.
    calm_rid = api.invoke(calm, {"action": "log", "marker": "after-flood"}).headers[
        "x-amzn-RequestId"]
    h.wait_until(lambda: any("after-flood" in e["message"] for e in
                             api.logs(request_id=calm_rid)["events"]), 10, "the calm lines")


def test_a_long_line_is_cut_with_a_marker(custom_server):
    srv = custom_server()
    lam = make_lambda_client(srv)
    api = Api(srv)
    fn = _create(lam, h.zip_files({"chatty.py": CHATTY}), handler="chatty.long_line")
    rid = api.invoke(fn, {}).headers["x-amzn-RequestId"]

    def stored():
        events = api.logs(request_id=rid, limit=100)["events"]
        return events if any("after the long line" in e["message"] for e in events) else None

    events = h.wait_until(stored, 10, "the lines")
    longs = [e["message"] for e in events if e["message"].startswith("LLL")]
    assert len(longs) == 1
    assert longs[0] == "L" * (256 * 1024) + " [nimbus] line truncated"
