"""Lambda's function-level DeadLetterConfig ({"TargetArn": queue ARN}) on nimbus queues
(README "Async invocations", docs/queues.md): set by CreateFunction and
UpdateFunctionConfiguration, shown by GetFunction/GetFunctionConfiguration/ListFunctions,
removed by TargetArn ""; missing queues and SNS topics are InvalidParameterValueException.
A given-up async event leaves its original payload, unchanged, in the queue with the
attributes RequestID, ErrorCode and ErrorMessage (and an OnFailure destination gets its
record too); `nimbus dlq replay` sends it back under its original request id."""
from __future__ import annotations

import json

import botocore.exceptions
import pytest

import nimbus_helpers as h
from conftest import ApiSession, make_lambda_client
from test_dlq_replay import FLAKY, fix, submit
from test_queues import (all_messages, cli_ok, create_python, create_queue, depth, record_of,
                         run_cli, wait_depth)


@pytest.fixture
def api(server):
    session = ApiSession(server.url, server.bearer)
    yield session
    session.close()


def sqs_form(queue_arn: str) -> str:
    """The same queue under the SQS ARN form nimbus also accepts."""
    return queue_arn.replace("arn:nimbus:queue:", "arn:aws:sqs:", 1)


def dead_letter_of(config: dict):
    return config.get("DeadLetterConfig", {}).get("TargetArn")


def test_set_shown_everywhere_and_removed(api, lam):
    dlq = create_queue(api)
    name = h.unique_name("dlc")
    created = lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                                  Handler="app.handler",
                                  Code={"ZipFile": h.zip_files({"app.py": FLAKY})},
                                  DeadLetterConfig={"TargetArn": dlq["Arn"]})
    try:
        h.wait_ready(lam, name)
        assert dead_letter_of(created) == dlq["Arn"]
        assert dead_letter_of(lam.get_function_configuration(FunctionName=name)) == dlq["Arn"]
        assert dead_letter_of(lam.get_function(FunctionName=name)["Configuration"]) == dlq["Arn"]
        listed = {f["FunctionName"]: f for f in lam.list_functions(MaxItems=10000)["Functions"]}
        assert dead_letter_of(listed[name]) == dlq["Arn"]

        # The SQS form names the same queue and is kept as given.
        updated = lam.update_function_configuration(
            FunctionName=name, DeadLetterConfig={"TargetArn": sqs_form(dlq["Arn"])})
        assert dead_letter_of(updated) == sqs_form(dlq["Arn"])
        h.wait_ready(lam, name)
        # An update that does not mention it leaves it.
        lam.update_function_configuration(FunctionName=name, Timeout=7)
        h.wait_ready(lam, name)
        assert dead_letter_of(lam.get_function_configuration(FunctionName=name)) == sqs_form(
            dlq["Arn"])

        # TargetArn "" removes it: the key is gone, as in Lambda.
        removed = lam.update_function_configuration(FunctionName=name,
                                                    DeadLetterConfig={"TargetArn": ""})
        assert "DeadLetterConfig" not in removed
        h.wait_ready(lam, name)
        assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
        listed = {f["FunctionName"]: f for f in lam.list_functions(MaxItems=10000)["Functions"]}
        assert "DeadLetterConfig" not in listed[name]
    finally:
        lam.delete_function(FunctionName=name)


@pytest.mark.parametrize("target, says", [
    ("arn:nimbus:queue:us-east-1:000000000000:{absent}", "does not exist"),
    ("arn:aws:sqs:us-east-1:000000000000:{absent}", "does not exist"),
    ("arn:aws:sns:us-east-1:000000000000:alerts", "only queues"),
    ("arn:aws:lambda:us-east-1:000000000000:function:other", "not a queue"),
])
def test_targets_that_are_not_existing_queues_are_refused(lam, target, says):
    target = target.format(absent=h.unique_name("absent"))
    name = h.unique_name("dlc-bad")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                            Handler="app.handler", Code={"ZipFile": h.zip_files({"app.py": FLAKY})},
                            DeadLetterConfig={"TargetArn": target})
    assert h.error_code(e.value) == "InvalidParameterValueException"
    assert h.http_status(e.value) == 400
    assert says in str(e.value)
    with pytest.raises(botocore.exceptions.ClientError) as gone:
        lam.get_function(FunctionName=name)
    assert h.error_code(gone.value) == "ResourceNotFoundException", "refused, yet created"

    create_python(lam, name, FLAKY)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.update_function_configuration(FunctionName=name,
                                              DeadLetterConfig={"TargetArn": target})
        assert h.error_code(e.value) == "InvalidParameterValueException"
        assert says in str(e.value)
        assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
    finally:
        lam.delete_function(FunctionName=name)


def test_failed_event_lands_as_sent_in_the_dlq_and_replays(server, api, lam):
    dlq, on_failure, ok = create_queue(api), create_queue(api), create_queue(api)
    name = h.unique_name("dlc-run")
    create_python(lam, name, FLAKY, Timeout=10, Environment={"Variables": {"BROKEN": "1"}},
                  DeadLetterConfig={"TargetArn": dlq["Arn"]})
    lam.put_function_event_invoke_config(
        FunctionName=name, MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": on_failure["Arn"]},
                           "OnSuccess": {"Destination": ok["Arn"]}})
    try:
        # Odd spacing and key order: the DLQ must get these bytes, not a re-serialisation.
        payload = '{"order": 7,   "items": ["a", "b"], "b": 1, "a": 2}'
        r = api.post(f"/2015-03-31/functions/{name}/invocations", data=payload,
                     headers={"X-Amz-Invocation-Type": "Event"})
        assert r.status_code == 202, r.text
        rid = r.headers["x-amzn-RequestId"]

        wait_depth(api, dlq["Name"], 1, 60)
        wait_depth(api, on_failure["Name"], 1, 60)
        (message,) = all_messages(api, dlq["Name"])
        assert message["Body"] == payload
        attributes = message["Attributes"]
        assert attributes["RequestID"] == rid
        assert attributes["ErrorCode"] == 200  # the function ran and failed
        assert attributes["ErrorMessage"] == "broken on purpose"
        assert attributes["FunctionArn"].endswith(f":function:{name}:$LATEST")
        assert attributes["Condition"] == "RetriesExhausted"
        # The OnFailure destination got its record as well (Lambda sends to both).
        (record_message,) = all_messages(api, on_failure["Name"])
        record = record_of(record_message)
        assert record["requestContext"]["requestId"] == rid
        assert record["requestPayload"] == json.loads(payload)
        assert depth(api, ok["Name"]) == 0
        # The function's async view names its dead-letter queue with the depth.
        events = api.get(f"/v1/functions/{name}/async-events").json()
        assert events["DeadLetterQueue"] == {"Destination": dlq["Arn"], "Depth": 1}, events
        shown = cli_ok(run_cli(server, "async", name)).stdout
        assert f"dead-letter queue  {dlq['Arn']} (depth 1)" in shown, shown
        # `nimbus dlq ls` lists it under its request id.
        table = cli_ok(run_cli(server, "dlq", "ls", dlq["Name"])).stdout.splitlines()
        assert table[1].split()[1:3] == [name, "RetriesExhausted"], table
        assert table[1].split()[6] == rid, table

        # Fixed, the replay sends the original event back under its request id.
        fix(lam, name)
        replay = cli_ok(run_cli(server, "dlq", "replay", dlq["Name"], "--rate", "50"))
        assert "1 replayed, 0 failed" in replay.stdout, replay.stdout
        assert depth(api, dlq["Name"]) == 0
        wait_depth(api, ok["Name"], 1, 60)
        (done,) = all_messages(api, ok["Name"])
        record = record_of(done)
        assert record["requestContext"]["requestId"] == rid
        assert record["requestContext"]["condition"] == "Success"
        assert record["responsePayload"] == {"fixed": True, "event": json.loads(payload)}
        assert done["Attributes"]["ReplayCount"] == 1
        assert depth(api, dlq["Name"]) == 0, "the fixed run must not dead-letter again"
    finally:
        lam.delete_function(FunctionName=name)


def test_removed_dead_letter_config_sends_nothing_more(api, lam):
    dlq = create_queue(api)
    name = h.unique_name("dlc-off")
    create_python(lam, name, FLAKY, Environment={"Variables": {"BROKEN": "1"}},
                  DeadLetterConfig={"TargetArn": dlq["Arn"]})
    lam.put_function_event_invoke_config(FunctionName=name, MaximumRetryAttempts=0)

    def dead() -> int:
        return api.get(f"/v1/functions/{name}/async-events").json()["dead"]

    try:
        first = submit(api, name, {"n": 1})
        wait_depth(api, dlq["Name"], 1, 60)
        lam.update_function_configuration(FunctionName=name, DeadLetterConfig={"TargetArn": ""})
        h.wait_ready(lam, name)
        submit(api, name, {"n": 2})
        # The DLQ message is committed before the event is marked dead: once the second
        # event is dead, a message for it would already be there.
        h.wait_until(lambda: dead() == 2, 60, "the second event to be given up")
        (message,) = all_messages(api, dlq["Name"])
        assert message["Attributes"]["RequestID"] == first
    finally:
        lam.delete_function(FunctionName=name)


def test_event_too_old_to_run_is_dead_lettered_as_throttled(custom_server):
    # Throttled events wait at least 65 s before trying again; with a maximum age of 60 s
    # they are given up at once (EventAgeExceeded) without ever running.
    srv = custom_server("--async-throttle-delay-ms", "130000")
    api = ApiSession(srv.url, srv.bearer)
    lam = make_lambda_client(srv)
    try:
        dlq = create_queue(api)
        name = h.unique_name("dlc-old")
        create_python(lam, name, FLAKY, DeadLetterConfig={"TargetArn": dlq["Arn"]})
        lam.put_function_event_invoke_config(FunctionName=name, MaximumEventAgeInSeconds=60)
        lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
        rid = submit(api, name, {"late": True})
        wait_depth(api, dlq["Name"], 1, 30)
        (message,) = all_messages(api, dlq["Name"])
        assert json.loads(message["Body"]) == {"late": True}
        assert message["Attributes"]["RequestID"] == rid
        assert message["Attributes"]["ErrorCode"] == 429
        assert message["Attributes"]["Condition"] == "EventAgeExceeded"
        assert message["Attributes"]["ErrorMessage"]
    finally:
        api.close()
        lam.close()


def test_cli_deploy_sets_and_removes_it_by_queue_name(server, api, lam, tmp_path):
    dlq = create_queue(api)
    name = h.unique_name("dlc-cli")
    folder = tmp_path / "fn"
    folder.mkdir()
    (folder / "app.py").write_text(FLAKY)
    try:
        cli_ok(run_cli(server, "deploy", folder, "--name", name, "--runtime", "python3.11",
                       "--handler", "app.handler", "--dead-letter-queue", dlq["Name"]))
        h.wait_ready(lam, name)
        assert dead_letter_of(lam.get_function_configuration(FunctionName=name)) == dlq["Arn"]
        cli_ok(run_cli(server, "deploy", folder, "--name", name, "--dead-letter-queue", ""))
        h.wait_ready(lam, name)
        assert "DeadLetterConfig" not in lam.get_function_configuration(FunctionName=name)
        missing = run_cli(server, "deploy", folder, "--name", name,
                          "--dead-letter-queue", h.unique_name("nope"))
        assert missing.returncode != 0 and "no queue named" in missing.stderr, missing
    finally:
        lam.delete_function(FunctionName=name)
