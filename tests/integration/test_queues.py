"""Named queues (issue 5, docs/queues.md): CRUD, send/peek/receive with visibility
timeouts, purge, error shapes, the `nimbus queue` CLI, and a queue as the OnSuccess
destination of async invocations (Lambda's destination record lands in it).

The helpers at the top are shared with test_dlq_replay.py, test_idempotency.py and
test_async_crash.py."""
from __future__ import annotations

import json
import os
import re
import subprocess
import time
from typing import Optional

import botocore.exceptions
import pytest

import nimbus_helpers as h
from nimbus_helpers import create_python, log_lines  # noqa: F401  (shared with the other queue tests)
from conftest import ApiSession, Server, nimbus_bin

from conftest import serve_on  # noqa: F401  (re-exported for the other queue tests)

QUEUE_ARN_RE = r"arn:nimbus:queue:us-east-1:000000000000:"
UUID_RE = r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"


# ------------------------------------------------------------------------- shared helpers

def assert_api_error(r, status: int, *error_types: str) -> None:
    """A native API error: the status, x-amzn-ErrorType (one of `error_types`) and a JSON
    body with a message."""
    assert r.status_code == status, f"expected {status} {error_types}, got {r.status_code}: {r.text}"
    got = r.headers.get("x-amzn-ErrorType", "")
    assert any(got.startswith(t) for t in error_types), dict(r.headers)
    body = r.json()
    assert body.get("message") or body.get("Message"), body


def create_queue(api: ApiSession, name: Optional[str] = None) -> dict:
    name = name or h.unique_name("q")
    r = api.post("/v1/queues", json={"Name": name})
    assert r.status_code == 201, r.text
    return r.json()


def get_queue(api: ApiSession, name: str) -> dict:
    r = api.get(f"/v1/queues/{name}")
    assert r.status_code == 200, r.text
    return r.json()


def depth(api: ApiSession, name: str) -> int:
    return get_queue(api, name)["Depth"]


def wait_depth(api: ApiSession, name: str, want: int, timeout: float) -> dict:
    """Waits until queue `name` holds at least `want` messages; returns the queue."""
    return h.wait_until(lambda: (lambda q: q if q["Depth"] >= want else None)(get_queue(api, name)),
                        timeout, f"queue {name} to hold {want} messages", interval=0.1)


def all_messages(api: ApiSession, name: str, limit: int = 100) -> list[dict]:
    """Every message of a queue, oldest first, paged with limit/after (peek)."""
    out, after, seen = [], None, set()
    while True:
        params = {"limit": str(limit)}
        if after:
            params["after"] = after
        r = api.get(f"/v1/queues/{name}/messages", params=params)
        assert r.status_code == 200, r.text
        page = r.json()
        assert len(page["Messages"]) <= limit, "a page holds at most `limit` messages"
        out.extend(page["Messages"])
        after = page.get("NextAfter")
        if not after:
            return out
        assert after not in seen, f"NextAfter {after} repeated"
        seen.add(after)


def send(api: ApiSession, name: str, body: str) -> str:
    r = api.post(f"/v1/queues/{name}/messages", json={"Body": body})
    assert r.status_code == 201, r.text
    return r.json()["MessageId"]


def receive(api: ApiSession, name: str, max_messages: int = 10,
            visibility: Optional[int] = None) -> list[dict]:
    body = {"MaxMessages": max_messages}
    if visibility is not None:
        body["VisibilityTimeout"] = visibility
    r = api.post(f"/v1/queues/{name}/receive", json=body)
    assert r.status_code == 200, r.text
    return r.json()["Messages"]


def record_of(message: dict) -> dict:
    """The destination record in a message's Body."""
    try:
        return json.loads(message["Body"])
    except (ValueError, TypeError) as e:
        raise AssertionError(f"message body is not a JSON destination record: {message}") from e


def run_cli(srv: Server, *args, timeout: float = 120, input_text: Optional[str] = None):
    """`nimbus <args> --endpoint URL` against any server, credentials in the environment;
    returns the CompletedProcess (text)."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NIMBUS_") and not k.startswith("AWS_")}
    env.update(NIMBUS_ACCESS_KEY_ID=srv.access_key, NIMBUS_SECRET_ACCESS_KEY=srv.secret_key)
    cmd = [str(nimbus_bin()), *[str(a) for a in args], "--endpoint", srv.url]
    return subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout,
                          input=input_text)


def cli_ok(result):
    assert result.returncode == 0, (f"$ {' '.join(result.args)}\n-> {result.returncode}\n"
                                    f"stdout:\n{result.stdout[-3000:]}\nstderr:\n"
                                    f"{result.stderr[-3000:]}")
    return result


@pytest.fixture
def queues(http):
    """queues() -> a new queue (dict) on the session server, deleted after the test."""
    made = []

    def make(name: Optional[str] = None) -> dict:
        q = create_queue(http, name)
        made.append(q["Name"])
        return q

    yield make
    for name in made:
        http.delete(f"/v1/queues/{name}")


# ------------------------------------------------------------------------------ the API

def test_queue_crud(http):
    name = h.unique_name("crud")
    r = http.post("/v1/queues", json={"Name": name})
    assert r.status_code == 201, r.text
    q = r.json()
    assert q["Name"] == name
    assert q["Arn"] == f"arn:nimbus:queue:us-east-1:000000000000:{name}"
    assert q["Depth"] == 0 and q["Visible"] == 0 and q["InFlight"] == 0
    assert q["Replay"]["State"] == "idle"
    assert q["CreatedAt"]
    assert_api_error(http.post("/v1/queues", json={"Name": name}), 409,
                     "ResourceConflictException")
    assert get_queue(http, name)["Arn"] == q["Arn"]
    listed = http.get("/v1/queues")
    assert listed.status_code == 200, listed.text
    assert name in [x["Name"] for x in listed.json()["Queues"]]

    r = http.delete(f"/v1/queues/{name}")
    assert r.status_code == 204, r.text
    assert_api_error(http.get(f"/v1/queues/{name}"), 404, "ResourceNotFoundException")
    assert name not in [x["Name"] for x in http.get("/v1/queues").json()["Queues"]]
    # The name is free again.
    assert create_queue(http, name)["Depth"] == 0
    assert http.delete(f"/v1/queues/{name}").status_code == 204


@pytest.mark.parametrize("body", [{"Name": ""}, {"Name": "x" * 81}, {"Name": "has space"},
                                  {"Name": "dots.not.allowed"}, {"Name": 7}, {}])
def test_bad_queue_names_are_400(http, body):
    assert_api_error(http.post("/v1/queues", json=body), 400, "InvalidParameterValueException",
                     "InvalidRequestContentException")


def test_longest_name_is_accepted(http, queues):
    name = "Q_-" + "a" * 77
    assert queues(name)["Name"] == name


def test_missing_queue_is_404_everywhere(http):
    missing = h.unique_name("nope")
    for method, path, body in [("GET", f"/v1/queues/{missing}", None),
                               ("POST", f"/v1/queues/{missing}/messages", {"Body": "x"}),
                               ("GET", f"/v1/queues/{missing}/messages", None),
                               ("POST", f"/v1/queues/{missing}/receive", {}),
                               ("DELETE", f"/v1/queues/{missing}/messages", None),
                               ("POST", f"/v1/queues/{missing}/replay", {})]:
        r = http.request(method, path, json=body)
        assert_api_error(r, 404, "ResourceNotFoundException")


def test_send_peek_receive_delete_and_visibility(http, queues):
    name = queues()["Name"]
    ids = [send(http, name, f"body-{i}") for i in range(3)]
    assert len(set(ids)) == 3
    q = get_queue(http, name)
    assert (q["Depth"], q["Visible"], q["InFlight"]) == (3, 3, 0)
    assert q["OldestAgeSeconds"] >= 0

    # Peek: oldest first, every field, no visibility change, pages with NextAfter.
    peeked = all_messages(http, name)
    assert [m["MessageId"] for m in peeked] == ids
    assert [m["Body"] for m in peeked] == ["body-0", "body-1", "body-2"]
    for m in peeked:
        assert m["ReceiveCount"] == 0 and m["SentAt"]
    first = http.get(f"/v1/queues/{name}/messages", params={"limit": "2"}).json()
    assert [m["MessageId"] for m in first["Messages"]] == ids[:2]
    assert first["NextAfter"]
    rest = http.get(f"/v1/queues/{name}/messages",
                    params={"limit": "2", "after": first["NextAfter"]}).json()
    assert [m["MessageId"] for m in rest["Messages"]] == ids[2:]
    assert "NextAfter" not in rest or not rest["NextAfter"]
    one = http.get(f"/v1/queues/{name}/messages/{ids[1]}")
    assert one.status_code == 200 and one.json()["Body"] == "body-1"
    assert get_queue(http, name)["Visible"] == 3, "peeking must not hide messages"

    # Receive two with a short visibility timeout, then the third with a long one.
    got = receive(http, name, max_messages=2, visibility=2)
    assert len(got) == 2 and {m["MessageId"] for m in got} <= set(ids)
    for m in got:
        assert m["ReceiptHandle"] and m["ReceiveCount"] == 1
    t_hidden = time.monotonic()
    (third,) = receive(http, name, visibility=60)
    assert third["MessageId"] not in {m["MessageId"] for m in got}
    q = get_queue(http, name)
    assert (q["Depth"], q["Visible"], q["InFlight"]) == (3, 0, 3)
    assert receive(http, name) == [], "every message is in flight"

    # Delete one of the two; the other comes back after its timeout, the deleted never.
    deleted, back = got[0]["MessageId"], got[1]["MessageId"]
    assert http.delete(f"/v1/queues/{name}/messages/{deleted}").status_code == 204
    assert_api_error(http.get(f"/v1/queues/{name}/messages/{deleted}"), 404,
                     "ResourceNotFoundException")
    again = h.wait_until(lambda: receive(http, name, visibility=60), 10,
                         "the received message to be visible again", interval=0.2)
    assert time.monotonic() - t_hidden >= 1.5, "a message came back before its timeout"
    assert [m["MessageId"] for m in again] == [back]
    assert again[0]["ReceiveCount"] == 2
    assert [m["MessageId"] for m in all_messages(http, name)] == [i for i in ids if i != deleted]
    assert depth(http, name) == 2

    # VisibilityTimeout 0 leaves a received message visible.
    extra = send(http, name, "zero")
    assert [m["MessageId"] for m in receive(http, name, visibility=0)] == [extra]
    assert [m["MessageId"] for m in receive(http, name, visibility=0)] == [extra]

    # Purge.
    r = http.delete(f"/v1/queues/{name}/messages")
    assert r.status_code == 200, r.text
    assert r.json() == {"Purged": 3}
    assert depth(http, name) == 0 and all_messages(http, name) == []


def test_receive_limits(http, queues):
    name = queues()["Name"]
    for i in range(12):
        send(http, name, str(i))
    assert len(receive(http, name, max_messages=10, visibility=0)) == 10
    for bad in ({"MaxMessages": 0}, {"MaxMessages": 11}, {"VisibilityTimeout": -1},
                {"VisibilityTimeout": 43201}):
        assert_api_error(http.post(f"/v1/queues/{name}/receive", json=bad), 400,
                         "InvalidParameterValueException")
    # Default visibility timeout: 30 s.
    got = receive(http, name, max_messages=10)
    assert len(got) == 10
    assert get_queue(http, name)["InFlight"] == 10


def test_send_errors(http, queues):
    name = queues()["Name"]
    for bad in ({}, {"Body": 5}, {"Body": None}):
        assert_api_error(http.post(f"/v1/queues/{name}/messages", json=bad), 400,
                         "InvalidParameterValueException", "InvalidRequestContentException")
    r = http.post(f"/v1/queues/{name}/messages", data="{not json")
    assert r.status_code == 400, r.text
    assert_api_error(http.get(f"/v1/queues/{name}/messages/no-such-id"), 404,
                     "ResourceNotFoundException")
    assert depth(http, name) == 0


def test_queues_need_authentication(anon):
    assert anon.get("/v1/queues").status_code == 403
    assert anon.post("/v1/queues", json={"Name": h.unique_name("anon")}).status_code == 403


# ------------------------------------------------------------------------------ the CLI

def test_queue_cli(cli, http):
    name = h.unique_name("cliq")
    r = cli("queue", "create", name)
    assert r.returncode == 0, str(r)
    assert name in r.stdout and "arn:nimbus:queue:" in r.stdout
    assert cli("queue", "create", name).returncode != 0
    try:
        table = cli("queue", "ls")
        assert table.returncode == 0, str(table)
        assert table.stdout.startswith("NAME"), table.stdout
        assert any(line.split()[0] == name for line in table.stdout.splitlines())
        listed = json.loads(cli("queue", "ls", "--json").stdout)
        assert name in [q["Name"] for q in listed["Queues"]]

        sent = cli("queue", "send", name, '{"hello": "queue"}')
        assert sent.returncode == 0, str(sent)
        message_id = sent.stdout.strip()
        assert message_id
        assert cli("queue", "send", name, "@-", input_text="from stdin").returncode == 0
        assert [m["Body"] for m in all_messages(http, name)] == ['{"hello": "queue"}', "from stdin"]

        peek = cli("queue", "receive", name, "--max", "10", "--visibility-timeout", "0")
        assert peek.returncode == 0, str(peek)
        got = json.loads(peek.stdout)["Messages"]
        assert len(got) == 2 and message_id in [m["MessageId"] for m in got]
        assert depth(http, name) == 2

        taken = cli("queue", "receive", name, "--max", "10", "--delete")
        assert taken.returncode == 0, str(taken)
        assert len(json.loads(taken.stdout)["Messages"]) == 2
        assert depth(http, name) == 0

        # `dlq ls` without a queue lists every queue (any queue can be a DLQ).
        assert name in cli("dlq", "ls").stdout
        assert cli("queue", "receive", name, "--max", "0").returncode != 0
    finally:
        r = cli("queue", "rm", name)
    assert r.returncode == 0, str(r)
    gone = cli("queue", "rm", name)
    assert gone.returncode != 0
    assert "ResourceNotFoundException" in gone.stderr, str(gone)


# ------------------------------------------------------------------ OnSuccess -> a queue

RETURNS = r'''
import json
def handler(event, context):
    print("ran " + context.aws_request_id, flush=True)
    return {"got": event, "rid": context.aws_request_id}
'''


@pytest.mark.parametrize("arn_kind", ["nimbus", "sqs"])
def test_on_success_destination_queue(http, lam, cli, queues, arn_kind):
    q = queues()
    arn = q["Arn"] if arn_kind == "nimbus" else q["Arn"].replace("arn:nimbus:queue:",
                                                                 "arn:aws:sqs:")
    name = h.unique_name("ok-dest")
    fn_arn = create_python(lam, name, RETURNS)
    try:
        put = lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}})
        assert put["DestinationConfig"]["OnSuccess"]["Destination"] == arn
        event = {"order": 42, "items": ["a", "b"]}
        t0 = time.time()
        r = http.post(f"/2015-03-31/functions/{name}/invocations", data=json.dumps(event),
                      headers={"X-Amz-Invocation-Type": "Event"})
        assert r.status_code == 202, r.text
        rid = r.headers["x-amzn-RequestId"]
        assert re.fullmatch(UUID_RE, rid), rid

        wait_depth(http, q["Name"], 1, 30)
        time.sleep(0.3)
        (message,) = all_messages(http, q["Name"])
        record = record_of(message)
        assert record["version"] == "1.0"
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:?\d\d)",
                            record["timestamp"]), record["timestamp"]
        ctx = record["requestContext"]
        assert ctx["requestId"] == rid
        assert ctx["condition"] == "Success"
        assert ctx["approximateInvokeCount"] == 1
        assert ctx["functionArn"].startswith(fn_arn), (ctx["functionArn"], fn_arn)
        assert record["requestPayload"] == event
        assert record["responseContext"]["statusCode"] == 200
        assert record["responseContext"]["executedVersion"] == "$LATEST"
        assert "functionError" not in record["responseContext"]
        assert record["responsePayload"] == {"got": event, "rid": rid}

        attrs = message["Attributes"]
        assert attrs["SourceFunction"] == name
        assert attrs["RequestId"] == rid
        assert attrs["Condition"] == "Success"
        assert attrs["ApproximateInvokeCount"] == 1
        assert attrs["ReplayCount"] == 0
        assert message["ReceiveCount"] == 0
        assert len(log_lines(http, name, "ran " + rid)) == 1
        assert time.time() - t0 < 60

        # The function's async visibility names the destination and its depth.
        events = http.get(f"/v1/functions/{name}/async-events").json()
        assert events["done"] >= 1 and events["queued"] == 0 and events["dead"] == 0
        assert events["OnSuccess"]["Destination"] == arn
        assert events["OnSuccess"]["Depth"] == 1
        assert "OnFailure" not in events
        shown = cli("async", name)
        assert shown.returncode == 0, str(shown)
        assert re.search(r"on success\s+\S+ \(depth 1\)", shown.stdout), shown.stdout
        assert re.search(r"^done\s+1$", shown.stdout, re.M), shown.stdout
    finally:
        lam.delete_function(FunctionName=name)


def test_a_destination_queue_must_exist(lam):
    """Records sent to a queue that does not exist would be lost: refused up front."""
    name = h.unique_name("no-dest")
    create_python(lam, name, RETURNS)
    missing = "arn:nimbus:queue:us-east-1:000000000000:" + h.unique_name("absent")
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.put_function_event_invoke_config(
                FunctionName=name, DestinationConfig={"OnFailure": {"Destination": missing}})
        assert h.error_code(e.value) == "InvalidParameterValueException"
        assert "does not exist" in str(e.value)
    finally:
        lam.delete_function(FunctionName=name)
