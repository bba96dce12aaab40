"""Dead-letter queues and replay (issue 5, docs/queues.md): a failing async function
runs exactly 1 + MaximumRetryAttempts times with growing backoff, then leaves one
RetriesExhausted record in its OnFailure queue; an event that cannot run within
MaximumEventAgeInSeconds goes straight there as EventAgeExceeded; after the function is
fixed, `nimbus dlq replay` re-submits every record (rate-limited, original request ids,
replay count 1) and empties the DLQ; `nimbus dlq purge` drops what cannot be replayed."""
from __future__ import annotations

import json
import re
import statistics
import time

import pytest

import nimbus_helpers as h
from conftest import ApiSession, Server, make_lambda_client
from test_queues import (all_messages, assert_api_error, cli_ok, create_python, create_queue,
                         depth, get_queue, log_lines, record_of, run_cli, send, wait_depth)

# Small backoffs (base 200 ms, cap 1 s) so that three attempts take about a second.
FAST_RETRIES = ("--async-retry-base-ms", "200", "--async-retry-cap-ms", "1000",
                "--async-throttle-delay-ms", "100")

# Fails while BROKEN=1 (fixed with UpdateFunctionConfiguration); prints one line per
# run with its start time, so the tests count attempts and measure the gaps.
FLAKY = r'''
import json, os, time
def handler(event, context):
    print("attempt %s %.6f" % (context.aws_request_id, time.time()), flush=True)
    if os.environ.get("BROKEN") == "1":
        raise RuntimeError("broken on purpose")
    return {"fixed": True, "event": event}
'''


@pytest.fixture
def fast_server(custom_server):
    return custom_server(*FAST_RETRIES)


@pytest.fixture
def clients():
    """clients(server) -> (ApiSession, boto3 lambda client), closed after the test."""
    made = []

    def make(srv: Server):
        api = ApiSession(srv.url, srv.bearer)
        lam = make_lambda_client(srv)
        made.append((api, lam))
        return api, lam

    yield make
    for api, lam in made:
        api.close()
        lam.close()


def submit(api: ApiSession, name: str, event: dict) -> str:
    r = api.post(f"/2015-03-31/functions/{name}/invocations", data=json.dumps(event),
                 headers={"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 202, r.text
    return r.headers["x-amzn-RequestId"]


def attempt_times(api: ApiSession, name: str) -> dict[str, list[float]]:
    """Request id -> the start times of its runs, in order."""
    runs: dict[str, list[float]] = {}
    for line in log_lines(api, name, "attempt "):
        _, rid, at = line.split()
        runs.setdefault(rid, []).append(float(at))
    return {rid: sorted(times) for rid, times in runs.items()}


def fix(lam, name: str) -> None:
    lam.update_function_configuration(FunctionName=name,
                                      Environment={"Variables": {"BROKEN": "0"}})
    h.wait_ready(lam, name)


def setup_flaky(api, lam, retries: int = 2, max_age=None):
    """A broken FLAKY function with OnFailure -> a new DLQ and OnSuccess -> a new queue."""
    dlq, ok = create_queue(api), create_queue(api)
    name = h.unique_name("flaky")
    create_python(lam, name, FLAKY, Timeout=10,
                  Environment={"Variables": {"BROKEN": "1"}})
    config = {"MaximumRetryAttempts": retries,
              "DestinationConfig": {"OnFailure": {"Destination": dlq["Arn"]},
                                    "OnSuccess": {"Destination": ok["Arn"]}}}
    if max_age is not None:
        config["MaximumEventAgeInSeconds"] = max_age
    lam.put_function_event_invoke_config(FunctionName=name, **config)
    return name, dlq["Name"], ok["Name"]


def test_retries_then_dlq_then_replay(fast_server, clients):
    api, lam = clients(fast_server)
    name, dlq, ok = setup_flaky(api, lam)
    # 20 events, a little apart so that a few warm instances serve them all: enough
    # samples to tell the backoff ceilings of the first (200 ms) and second (400 ms)
    # retry apart under full jitter.
    events = {}
    for i in range(20):
        events[submit(api, name, {"i": i})] = {"i": i}
        time.sleep(0.1)
    wait_depth(api, dlq, 20, 90)
    time.sleep(1.5)  # longer than any backoff: a fourth run would show now

    runs = attempt_times(api, name)
    assert set(runs) == set(events), "a run of an event that was never submitted"
    counts = {rid: len(t) for rid, t in runs.items()}
    assert all(n == 3 for n in counts.values()), f"runs per event (want 3 each): {counts}"
    gap1 = [t[1] - t[0] for t in runs.values()]
    gap2 = [t[2] - t[1] for t in runs.values()]
    print(f"retry gaps: first mean {statistics.mean(gap1):.3f} s, second mean "
          f"{statistics.mean(gap2):.3f} s")
    assert statistics.mean(gap2) > statistics.mean(gap1), (gap1, gap2)
    assert max(gap2) > 0.2, "the second backoff's ceiling (400 ms) was never used"

    # Exactly one RetriesExhausted record per event, nothing in the success queue.
    messages = all_messages(api, dlq)
    assert len(messages) == 20
    assert depth(api, ok) == 0
    by_rid = {}
    for m in messages:
        record = record_of(m)
        ctx = record["requestContext"]
        assert ctx["requestId"] not in by_rid, "two DLQ records for one event"
        by_rid[ctx["requestId"]] = m
        assert record["version"] == "1.0"
        assert ctx["condition"] == "RetriesExhausted"
        assert ctx["approximateInvokeCount"] == 3
        assert ctx["functionArn"].endswith(f":function:{name}:$LATEST")
        assert record["requestPayload"] == events[ctx["requestId"]]
        assert record["responseContext"]["functionError"] == "Unhandled"
        assert record["responsePayload"]["errorType"] == "RuntimeError"
        want = {"SourceFunction": name, "RequestId": ctx["requestId"],
                "Condition": "RetriesExhausted", "ApproximateInvokeCount": 3, "ReplayCount": 0}
        assert {k: m["Attributes"].get(k) for k in want} == want, m["Attributes"]
    assert set(by_rid) == set(events)

    # Visibility through the API and the CLI.
    counts = api.get(f"/v1/functions/{name}/async-events").json()
    assert counts["dead"] == 20 and counts["queued"] == 0 and counts["running"] == 0
    assert isinstance(counts["Retries"], int)
    assert counts["OnFailure"]["Depth"] == 20
    assert counts["OnSuccess"]["Depth"] == 0
    shown = cli_ok(run_cli(fast_server, "async", name)).stdout
    assert re.search(r"^dead\s+20$", shown, re.M), shown
    assert re.search(r"on failure\s+\S+ \(depth 20\)", shown), shown
    table = cli_ok(run_cli(fast_server, "dlq", "ls", dlq)).stdout.splitlines()
    assert table[0].split() == ["ID", "SOURCE_FUNCTION", "CONDITION", "ATTEMPTS", "REPLAYS",
                                "AGE", "REQUEST_ID"]
    rows = [line.split() for line in table[1:]]
    assert len(rows) == 20
    assert {r[6] for r in rows} == set(events)
    assert all(r[1:5] == [name, "RetriesExhausted", "3", "0"] for r in rows), rows
    listed = cli_ok(run_cli(fast_server, "dlq", "ls")).stdout
    assert re.search(rf"^{dlq}\s+20\s", listed, re.M), listed
    some = messages[0]
    full = json.loads(cli_ok(run_cli(fast_server, "dlq", "show", dlq, some["MessageId"])).stdout)
    assert full["MessageId"] == some["MessageId"]
    assert full["Body"]["requestContext"]["condition"] == "RetriesExhausted"

    # Fix the function and replay every record at 5 per second.
    fix(lam, name)
    t0 = time.monotonic()
    replay = cli_ok(run_cli(fast_server, "dlq", "replay", dlq, "--rate", "5"))
    elapsed = time.monotonic() - t0
    assert "20 replayed, 0 failed" in replay.stdout, replay.stdout
    assert elapsed >= 3.4, f"20 records at 5/s were replayed in {elapsed:.2f} s"
    assert depth(api, dlq) == 0
    q = get_queue(api, dlq)
    assert q["Replay"]["State"] == "idle"

    wait_depth(api, ok, 20, 60)
    time.sleep(0.5)
    done = all_messages(api, ok)
    assert len(done) == 20
    for m in done:
        record = record_of(m)
        rid = record["requestContext"]["requestId"]
        assert rid in events, "a replayed event got a new request id"
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestPayload"] == events[rid]
        assert record["responsePayload"] == {"fixed": True, "event": events[rid]}
        assert m["Attributes"]["ReplayCount"] == 1
        assert m["Attributes"]["RequestId"] == rid
    assert {record_of(m)["requestContext"]["requestId"] for m in done} == set(events)
    # The function saw each replayed event under its original id: a fourth run each.
    runs = attempt_times(api, name)
    assert all(len(runs[rid]) == 4 for rid in events), {r: len(t) for r, t in runs.items()}
    assert depth(api, dlq) == 0


def test_event_age_exceeded_goes_straight_to_the_dlq(custom_server, clients):
    # A throttled event waits --async-throttle-delay-ms (jittered over its upper half:
    # here at least 65 s) before trying again; with MaximumEventAgeInSeconds 60 it can
    # never run in time, so it is given up at once rather than after a minute.
    srv = custom_server("--async-throttle-delay-ms", "130000", "--async-retry-base-ms", "200",
                        "--async-retry-cap-ms", "1000")
    api, lam = clients(srv)
    name, dlq, ok = setup_flaky(api, lam, retries=2, max_age=60)
    fix(lam, name)  # it would succeed if it ran
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    events = {}
    for i in range(10):
        events[submit(api, name, {"late": i})] = {"late": i}
    wait_depth(api, dlq, 10, 30)
    messages = all_messages(api, dlq)
    assert len(messages) == 10
    for m in messages:
        record = record_of(m)
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["requestContext"]["approximateInvokeCount"] == 0
        assert record["requestPayload"] == events[record["requestContext"]["requestId"]]
        assert m["Attributes"]["Condition"] == "EventAgeExceeded"
    assert attempt_times(api, name) == {}, "a throttled event ran"

    # Allow it to run again, and replay at 5/s without waiting: 10 records take >= 1.8 s.
    lam.delete_function_concurrency(FunctionName=name)
    t0 = time.monotonic()
    started = cli_ok(run_cli(srv, "dlq", "replay", dlq, "--rate", "5", "--no-wait"))
    assert "replaying" in started.stdout, started.stdout
    # One replay at a time per queue.
    assert_api_error(api.post(f"/v1/queues/{dlq}/replay", json={"Rate": 5}), 409,
                     "ResourceConflictException")
    final = h.wait_until(
        lambda: (lambda q: q if q["Replay"]["State"] == "idle" else None)(get_queue(api, dlq)),
        60, "the replay to finish", interval=0.05)
    elapsed = time.monotonic() - t0
    assert elapsed >= 1.6, f"10 records at 5/s were replayed in {elapsed:.2f} s"
    assert final["Depth"] == 0
    assert final["Replay"]["Failed"] == 0
    wait_depth(api, ok, 10, 30)
    done = all_messages(api, ok)
    assert {record_of(m)["requestContext"]["requestId"] for m in done} == set(events)
    assert all(m["Attributes"]["ReplayCount"] == 1 for m in done)


def test_replay_rate_bounds(fast_server, clients):
    api, _ = clients(fast_server)
    q = create_queue(api)["Name"]
    for bad in (0, 0.01, 1001, "fast"):
        assert_api_error(api.post(f"/v1/queues/{q}/replay", json={"Rate": bad}), 400,
                         "InvalidParameterValueException", "InvalidRequestContentException")


def test_replay_one_message(fast_server, clients):
    api, lam = clients(fast_server)
    name, dlq, ok = setup_flaky(api, lam, retries=0)
    rid = submit(api, name, {"one": 1})
    wait_depth(api, dlq, 1, 30)
    (message,) = all_messages(api, dlq)
    fix(lam, name)
    r = api.post(f"/v1/queues/{dlq}/messages/{message['MessageId']}/replay")
    assert r.status_code in (200, 202), r.text
    assert r.json() == {"RequestId": rid, "FunctionName": name, "ReplayCount": 1}
    assert depth(api, dlq) == 0
    wait_depth(api, ok, 1, 30)
    (done,) = all_messages(api, ok)
    assert record_of(done)["requestContext"]["requestId"] == rid
    assert done["Attributes"]["ReplayCount"] == 1


def test_unreplayable_messages_stay_then_purge(fast_server, clients):
    api, _ = clients(fast_server)
    q = create_queue(api)["Name"]
    plain = send(api, q, "not a destination record")
    ghost = json.dumps({"version": "1.0", "timestamp": "2024-01-01T00:00:00.000Z",
                        "requestContext": {
                            "requestId": "00000000-0000-0000-0000-000000000001",
                            "functionArn": "arn:aws:lambda:us-east-1:000000000000:function:"
                                           + h.unique_name("gone") + ":$LATEST",
                            "condition": "RetriesExhausted", "approximateInvokeCount": 3},
                        "requestPayload": {}, "responseContext": {}, "responsePayload": None})
    send(api, q, ghost)
    replay = run_cli(fast_server, "dlq", "replay", q, "--rate", "100")
    assert replay.returncode == 1, f"exit {replay.returncode}: {replay.stdout} {replay.stderr}"
    assert "2 failed" in replay.stdout, replay.stdout
    left = all_messages(api, q)
    assert len(left) == 2 and left[0]["MessageId"] == plain, "a failed replay lost a message"
    r = api.post(f"/v1/queues/{q}/messages/{plain}/replay")
    assert 400 <= r.status_code < 500, r.text

    purged = cli_ok(run_cli(fast_server, "dlq", "purge", q))
    assert "purged 2 " in purged.stdout, purged.stdout
    assert depth(api, q) == 0
    assert cli_ok(run_cli(fast_server, "dlq", "ls", q)).stdout.splitlines()[1:] == []
    missing = run_cli(fast_server, "dlq", "purge", h.unique_name("nope"))
    assert missing.returncode == 2 and "ResourceNotFoundException" in missing.stderr
