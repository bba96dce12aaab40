"""Asynchronous invocations (issue 5): durable acceptance, delivery, retries with the
event invoke config, OnFailure destinations, and no event lost to a kill -9."""
from __future__ import annotations

import json
import signal
import subprocess
import time
from pathlib import Path

import botocore.exceptions
import pytest

import nimbus_helpers as h
from nimbus_helpers import create_python as create, log_lines  # noqa: F401
from conftest import ApiSession, Server, _stop, make_lambda_client, serve_on, start_server

# Small backoffs so that three attempts take well under a second or two.
FAST_RETRIES = ("--async-retry-base-ms", "200", "--async-retry-cap-ms", "400",
                "--async-throttle-delay-ms", "100")

# Prints one line per run (the tests count them); can sleep and fail.
HANDLER = r'''
import json, time
def handler(event, context):
    print("async-ran " + context.aws_request_id + " " + json.dumps(event), flush=True)
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    if event.get("fail"):
        raise ValueError("boom")
    return {"ok": True}
'''
DESTINATION = r'''
import json
def handler(event, context):
    print("dest-record " + json.dumps(event), flush=True)
    return {}
'''


@pytest.fixture
def api_for():
    """api_for(server) -> an authenticated ApiSession, closed after the test."""
    sessions = []

    def make(srv: Server) -> ApiSession:
        sessions.append(ApiSession(srv.url, srv.bearer))
        return sessions[-1]

    yield make
    for session in sessions:
        session.close()


@pytest.fixture
def lam_for():
    """lam_for(server, **kw) -> a boto3 Lambda client, closed after the test."""
    clients = []

    def make(srv: Server, **kw):
        clients.append(make_lambda_client(srv, **kw))
        return clients[-1]

    yield make
    for client in clients:
        client.close()


def invoke_async(lam, name: str, event: dict) -> str:
    resp = lam.invoke(FunctionName=name, InvocationType="Event",
                      Payload=json.dumps(event).encode())
    assert resp["StatusCode"] == 202
    return h.request_id(resp)


def test_event_invoke_returns_202_and_the_function_runs(custom_server, api_for, lam_for):
    srv = custom_server(*FAST_RETRIES)
    lam = lam_for(srv)
    api = api_for(srv)
    name = h.unique_name("async")
    create(lam, name, HANDLER)
    rid = invoke_async(lam, name, {"marker": "hello-async"})
    lines = h.wait_until(lambda: log_lines(api, name, "async-ran " + rid), 15,
                         "the async invocation to run")
    assert "hello-async" in lines[0]
    # Still only once: a success is not retried.
    time.sleep(0.5)
    assert len(log_lines(api, name, "async-ran " + rid)) == 1


def test_event_invoke_config_api(custom_server, api_for, lam_for):
    srv = custom_server()
    lam = lam_for(srv)
    name = h.unique_name("eic")
    create(lam, name, HANDLER)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert h.http_status(e.value) == 404
    dest = f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    put = lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": dest}})
    assert put["MaximumRetryAttempts"] == 1
    assert put["MaximumEventAgeInSeconds"] == 21600
    assert put["DestinationConfig"]["OnFailure"]["Destination"] == dest
    upd = lam.update_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
    assert upd["MaximumRetryAttempts"] == 1 and upd["MaximumEventAgeInSeconds"] == 60
    got = lam.get_function_event_invoke_config(FunctionName=name)
    assert got["MaximumEventAgeInSeconds"] == 60
    assert got["DestinationConfig"]["OnFailure"]["Destination"] == dest
    listed = lam.list_function_event_invoke_configs(FunctionName=name)
    assert len(listed["FunctionEventInvokeConfigs"]) == 1
    # botocore checks these ranges itself: go around it with the raw API.
    api = api_for(srv)
    for bad in ({"MaximumRetryAttempts": 3}, {"MaximumEventAgeInSeconds": 59},
                {"MaximumEventAgeInSeconds": 21601}):
        r = api.put(f"/2019-09-25/functions/{name}/event-invoke-config", json=bad)
        assert r.status_code == 400, r.text
        assert r.headers["x-amzn-ErrorType"].startswith("InvalidParameterValueException")
    lam.delete_function_event_invoke_config(FunctionName=name)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_function_event_invoke_config(FunctionName=name)
    assert h.error_code(e.value) == "ResourceNotFoundException"


def test_failing_function_runs_three_times_then_on_failure(custom_server, api_for, lam_for):
    srv = custom_server(*FAST_RETRIES)
    lam = lam_for(srv)
    api = api_for(srv)
    name, dlq = h.unique_name("fail"), h.unique_name("dest")
    create(lam, name, HANDLER)
    dlq_arn = create(lam, dlq, DESTINATION)
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": dlq_arn}})
    rid = invoke_async(lam, name, {"fail": True, "n": 7})
    records = h.wait_until(lambda: log_lines(api, dlq, "dest-record "), 20,
                           "the OnFailure destination to receive a record")
    assert len(log_lines(api, name, "async-ran " + rid)) == 3
    record = json.loads(records[0][len("dest-record "):])
    assert record["version"] == "1.0"
    ctx = record["requestContext"]
    assert ctx["requestId"] == rid
    assert ctx["condition"] == "RetriesExhausted"
    assert ctx["approximateInvokeCount"] == 3
    assert ctx["functionArn"].endswith(f":function:{name}:$LATEST")
    assert record["requestPayload"] == {"fail": True, "n": 7}
    assert record["responseContext"]["functionError"] == "Unhandled"
    assert record["responsePayload"]["errorType"] == "ValueError"
    time.sleep(1)  # no fourth run, no second record
    assert len(log_lines(api, name, "async-ran " + rid)) == 3
    assert len(log_lines(api, dlq, "dest-record ")) == 1
    counts = api.get(f"/v1/functions/{name}/async-events").json()
    assert {k: counts[k] for k in ("queued", "running", "done", "dead")} == {
        "queued": 0, "running": 0, "done": 0, "dead": 1}
    assert counts["Retries"] == 2  # three runs: the first and two retries
    assert counts["OnFailure"]["Destination"].endswith(f":function:{dlq}")


def test_zero_retries_runs_once(custom_server, api_for, lam_for):
    srv = custom_server(*FAST_RETRIES)
    lam = lam_for(srv)
    api = api_for(srv)
    name = h.unique_name("once")
    create(lam, name, HANDLER)
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)
    rid = invoke_async(lam, name, {"fail": True})
    h.wait_until(lambda: log_lines(api, name, "async-ran " + rid), 15, "the first run")
    time.sleep(1.5)  # several backoff periods
    assert len(log_lines(api, name, "async-ran " + rid)) == 1


def delivered_ids(*logs: Path) -> set[str]:
    """Request ids of the "async event delivered" lines of server logs. The dispatcher
    writes that line (after a successful run) before it marks the event done, so an
    event missing here is still queued or running in the store, never forgotten."""
    ids = set()
    for path in logs:
        for line in path.read_text(errors="replace").splitlines():
            try:
                entry = json.loads(line)
            except ValueError:
                continue  # a line cut short by the kill
            if entry.get("msg") == "async event delivered":
                ids.add(entry["request_id"])
    return ids


def test_no_event_is_lost_to_kill_9(tmp_path_factory, api_for, lam_for):
    work = tmp_path_factory.mktemp("nimbus-crash")
    first = start_server(work, FAST_RETRIES)
    second = None
    try:
        lam = lam_for(first, pool=8)
        name = h.unique_name("crash")
        create(lam, name, HANDLER, Timeout=10)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)
        ids = [invoke_async(lam, name, {"sleep": 0.2, "i": i}) for i in range(50)]
        assert len(set(ids)) == 50
        h.wait_until(lambda: len(delivered_ids(first.log_path)) >= 5, 30, "a few events to run")
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        before = delivered_ids(first.log_path)
        assert len(before) < 50, "all ran before the kill: the test proves nothing"

        second = serve_on(first.data_dir, first.secret_key, work, FAST_RETRIES)
        api = api_for(second)
        h.wait_until(lambda: set(ids) <= delivered_ids(first.log_path, second.log_path), 60,
                     "every accepted event to run after the restart")
        # The function itself saw every event the first server had not finished, under
        # its original request id.
        ran_after = {line.split()[1] for line in log_lines(api, name, "async-ran ")}
        assert set(ids) - before <= ran_after
        assert ran_after <= set(ids)
    finally:
        if first.alive():
            first.proc.kill()
            first.proc.wait()
        if second is not None:
            _stop(second, check=True)
