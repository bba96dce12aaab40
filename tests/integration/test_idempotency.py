"""Idempotency keys (issue 5, docs/queues.md): an invoke carrying
X-Nimbus-Idempotency-Key runs at most once per function and invocation type; a repeat
gets the first result (sync) or the first request id (async) with
X-Nimbus-Idempotent-Replay: true; a refused first attempt does not consume the key; keys
survive a restart. Runs are counted from the function's own log lines (one per run)."""
from __future__ import annotations

import concurrent.futures
import json
import time

import pytest

import nimbus_helpers as h
from conftest import ApiSession, _stop, make_lambda_client, start_server
from test_queues import create_python, log_lines, run_cli, serve_on

KEY_HEADER = "X-Nimbus-Idempotency-Key"
REPLAY_HEADER = "X-Nimbus-Idempotent-Replay"

# One "run <request id>" line per run; the result is different every time, so a
# replayed answer is told apart from a fresh one.
COUNTER = r'''
import json, os, time, uuid
def handler(event, context):
    print("run " + context.aws_request_id, flush=True)
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    if event.get("fail"):
        raise ValueError("failing on purpose " + uuid.uuid4().hex)
    return {"rid": context.aws_request_id, "nonce": uuid.uuid4().hex, "event": event}
'''


@pytest.fixture
def fn(lam):
    name = h.unique_name("idem")
    create_python(lam, name, COUNTER, Timeout=10)
    yield name
    try:
        lam.delete_function(FunctionName=name)
    except Exception:  # noqa: BLE001 - best effort
        pass


def invoke(api: ApiSession, name: str, event: dict, key=None, async_=False):
    headers = {"X-Amz-Invocation-Type": "Event" if async_ else "RequestResponse"}
    if key is not None:
        headers[KEY_HEADER] = key
    return api.post(f"/2015-03-31/functions/{name}/invocations", data=json.dumps(event),
                    headers=headers)


def runs(api: ApiSession, name: str) -> list[str]:
    return [line.split()[1] for line in log_lines(api, name, "run ")]


def is_replay(r) -> bool:
    return r.headers.get(REPLAY_HEADER, "").lower() == "true"


def test_sync_repeat_returns_the_first_result(http, fn):
    key = h.unique_name("key")
    first = invoke(http, fn, {"n": 1}, key)
    assert first.status_code == 200, first.text
    assert not is_replay(first)
    second = invoke(http, fn, {"n": 1}, key)
    assert second.status_code == 200, second.text
    assert is_replay(second), dict(second.headers)
    assert second.content == first.content
    assert second.headers["x-amzn-RequestId"] == first.headers["x-amzn-RequestId"]
    assert second.headers.get("X-Amz-Executed-Version") == first.headers.get(
        "X-Amz-Executed-Version")
    assert first.json()["rid"] == first.headers["x-amzn-RequestId"]
    # Even with another payload: the key, not the event, names the invocation.
    third = invoke(http, fn, {"n": 2}, key)
    assert is_replay(third) and third.content == first.content
    assert runs(http, fn) == [first.headers["x-amzn-RequestId"]]

    # Another key, or none, runs again.
    other = invoke(http, fn, {"n": 1}, h.unique_name("key"))
    assert other.status_code == 200 and not is_replay(other)
    assert other.json()["nonce"] != first.json()["nonce"]
    plain = invoke(http, fn, {"n": 1})
    assert plain.status_code == 200 and not is_replay(plain)
    assert len(runs(http, fn)) == 3


def test_function_error_is_replayed_too(http, fn):
    key = h.unique_name("key")
    first = invoke(http, fn, {"fail": True}, key)
    assert first.status_code == 200 and first.headers.get("X-Amz-Function-Error") == "Unhandled"
    second = invoke(http, fn, {"fail": True}, key)
    assert is_replay(second)
    assert second.status_code == 200
    assert second.headers.get("X-Amz-Function-Error") == "Unhandled"
    assert second.content == first.content
    assert len(runs(http, fn)) == 1


def test_keys_are_per_function_and_invocation_type(http, lam, fn):
    key = h.unique_name("key")
    other = h.unique_name("idem2")
    create_python(lam, other, COUNTER)
    try:
        a = invoke(http, fn, {}, key)
        b = invoke(http, other, {}, key)
        assert not is_replay(a) and not is_replay(b)
        assert a.headers["x-amzn-RequestId"] != b.headers["x-amzn-RequestId"]
        # The same key on an async invoke of the same function is a separate invocation.
        c = invoke(http, fn, {}, key, async_=True)
        assert c.status_code == 202 and not is_replay(c)
        assert c.headers["x-amzn-RequestId"] != a.headers["x-amzn-RequestId"]
        h.wait_until(lambda: len(runs(http, fn)) == 2, 20, "the async run")
        assert len(runs(http, other)) == 1
    finally:
        lam.delete_function(FunctionName=other)


def test_async_repeat_is_not_queued_again(http, fn):
    key = h.unique_name("key")
    first = invoke(http, fn, {"a": 1}, key, async_=True)
    assert first.status_code == 202, first.text
    assert not is_replay(first)
    rid = first.headers["x-amzn-RequestId"]
    second = invoke(http, fn, {"a": 1}, key, async_=True)
    assert second.status_code == 202, second.text
    assert is_replay(second)
    assert second.headers["x-amzn-RequestId"] == rid
    h.wait_until(lambda: runs(http, fn), 20, "the async invocation to run")
    # And after it ran, still the same answer without another run.
    third = invoke(http, fn, {"a": 1}, key, async_=True)
    assert third.status_code == 202 and is_replay(third)
    assert third.headers["x-amzn-RequestId"] == rid
    time.sleep(1.0)
    assert runs(http, fn) == [rid]


def test_repeat_while_the_first_runs_is_409(http, server, fn):
    key = h.unique_name("key")
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        session = ApiSession(server.url, server.bearer)
        try:
            slow = pool.submit(invoke, session, fn, {"sleep": 2}, key)
            h.wait_until(lambda: runs(http, fn), 15, "the first invocation to start")
            during = invoke(http, fn, {"sleep": 2}, key)
            first = slow.result(timeout=30)
        finally:
            session.close()
    assert during.status_code == 409, during.text
    assert during.headers.get("x-amzn-ErrorType", "").startswith("ResourceConflictException")
    assert first.status_code == 200 and not is_replay(first)
    after = invoke(http, fn, {"sleep": 2}, key)
    assert is_replay(after) and after.content == first.content
    assert len(runs(http, fn)) == 1


def test_throttled_first_attempt_does_not_consume_the_key(http, lam, fn):
    key = h.unique_name("key")
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    refused = invoke(http, fn, {}, key)
    assert refused.status_code == 429, refused.text
    assert not is_replay(refused)
    lam.delete_function_concurrency(FunctionName=fn)
    ran = invoke(http, fn, {}, key)
    assert ran.status_code == 200, ran.text
    assert not is_replay(ran), "the refused invoke consumed the key"
    assert runs(http, fn) == [ran.headers["x-amzn-RequestId"]]
    again = invoke(http, fn, {}, key)
    assert is_replay(again) and again.content == ran.content


@pytest.mark.parametrize("key", ["x" * 257, "tab\there", "caf\u00e9"],
                         ids=["257-chars", "tab", "non-ascii"])
def test_bad_keys_are_400(http, fn, key):
    r = http.post(f"/2015-03-31/functions/{fn}/invocations", data=b"{}",
                  headers={KEY_HEADER: key.encode("utf-8")})
    assert r.status_code == 400, r.text
    assert runs(http, fn) == []


def test_longest_key_is_accepted(http, fn):
    key = "k" * 256
    assert invoke(http, fn, {}, key).status_code == 200
    assert is_replay(invoke(http, fn, {}, key))


def test_cli_idempotency_key(cli, http, fn):
    key = h.unique_name("cli-key")
    first = cli("invoke", fn, "--data", '{"cli": 1}', "--idempotency-key", key)
    assert first.returncode == 0, str(first)
    second = cli("invoke", fn, "--data", '{"cli": 1}', "--idempotency-key", key)
    assert second.returncode == 0, str(second)
    assert json.loads(second.stdout) == json.loads(first.stdout)
    assert "idempotency key seen before" in second.stderr
    a1 = cli("invoke", fn, "--async", "--idempotency-key", key)
    a2 = cli("invoke", fn, "--async", "--idempotency-key", key)
    assert a1.returncode == 0 and a2.returncode == 0, str(a2)
    assert a1.stdout.strip() == a2.stdout.strip()
    h.wait_until(lambda: len(runs(http, fn)) == 2, 20, "the async run")
    time.sleep(0.5)
    assert len(runs(http, fn)) == 2


def test_keys_survive_a_restart(tmp_path_factory):
    work = tmp_path_factory.mktemp("nimbus-idem-restart")
    first = start_server(work)
    second = None
    api = ApiSession(first.url, first.bearer)
    lam = make_lambda_client(first)
    try:
        name = h.unique_name("idem-restart")
        create_python(lam, name, COUNTER)
        sync_key, async_key = h.unique_name("sync"), h.unique_name("async")
        sync_first = invoke(api, name, {"s": 1}, sync_key)
        assert sync_first.status_code == 200 and not is_replay(sync_first)
        async_first = invoke(api, name, {"a": 1}, async_key, async_=True)
        assert async_first.status_code == 202
        h.wait_until(lambda: len(runs(api, name)) == 2, 20, "both invocations to run")
        api.close()
        lam.close()
        _stop(first, check=True)

        second = serve_on(first.data_dir, first.secret_key, work)
        api = ApiSession(second.url, second.bearer)
        sync_again = invoke(api, name, {"s": 1}, sync_key)
        assert sync_again.status_code == 200, sync_again.text
        assert is_replay(sync_again)
        assert sync_again.content == sync_first.content
        assert sync_again.headers["x-amzn-RequestId"] == sync_first.headers["x-amzn-RequestId"]
        async_again = invoke(api, name, {"a": 1}, async_key, async_=True)
        assert async_again.status_code == 202 and is_replay(async_again)
        assert async_again.headers["x-amzn-RequestId"] == async_first.headers["x-amzn-RequestId"]
        time.sleep(1.0)
        assert runs(api, name) == [], "the restarted server ran a keyed invocation again"
        fresh = invoke(api, name, {}, h.unique_name("new"))
        assert fresh.status_code == 200 and not is_replay(fresh)
        shown = run_cli(second, "invoke", name, "--idempotency-key", sync_key)
        assert shown.returncode == 0 and json.loads(shown.stdout) == sync_first.json()
    finally:
        api.close()
        if first.alive():
            first.proc.kill()
            first.proc.wait()
        if second is not None:
            _stop(second, check=True)


def test_short_ttl_expires_keys(custom_server):
    srv = custom_server("--idempotency-ttl-seconds", "1")
    api = ApiSession(srv.url, srv.bearer)
    lam = make_lambda_client(srv)
    try:
        name = h.unique_name("idem-ttl")
        create_python(lam, name, COUNTER)
        key = h.unique_name("ttl")
        first = invoke(api, name, {}, key)
        assert not is_replay(first)
        time.sleep(2.2)
        later = invoke(api, name, {}, key)
        assert later.status_code == 200 and not is_replay(later), "an expired key was honoured"
        assert len(runs(api, name)) == 2
    finally:
        api.close()
        lam.close()
