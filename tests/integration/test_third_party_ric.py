"""An unmodified third-party Runtime API client against nimbus: AWS's own Node.js
runtime interface client (aws-lambda-ric, built from the npm registry with its bundled
aws-lambda-cpp by scripts/build-aws-lambda-ric.sh), packaged inside a `provided`
function the way a custom image would carry it.

Set NIMBUS_RIC_DIR to the folder that script built into (scripts/test.sh does)."""
import base64
import json
import os
from pathlib import Path

import pytest

import nimbus_helpers as h

RIC_DIR = os.environ.get("NIMBUS_RIC_DIR")
FUNCTION_DIR = Path(__file__).parent / "functions" / "ric-node"

BOOTSTRAP = """#!/bin/sh
exec /usr/bin/node "$LAMBDA_TASK_ROOT/node_modules/aws-lambda-ric/bin/index.mjs" "$_HANDLER"
"""


def ric_zip() -> bytes:
    package = Path(RIC_DIR) / "node_modules" / "aws-lambda-ric"
    if not (package / "dist" / "rapid-client.node").exists():
        pytest.fail(f"aws-lambda-ric is not built in {RIC_DIR}")
    files = {"bootstrap": (BOOTSTRAP, 0o755),
             "index.mjs": (FUNCTION_DIR / "index.mjs").read_bytes()}
    for sub in ("bin", "dist"):
        for path in sorted((package / sub).rglob("*")):
            if path.is_file():
                rel = "node_modules/aws-lambda-ric/" + path.relative_to(package).as_posix()
                files[rel] = (path.read_bytes(), path.stat().st_mode & 0o777)
    files["node_modules/aws-lambda-ric/package.json"] = (package / "package.json").read_bytes()
    return h.zip_files(files)


pytestmark = pytest.mark.skipif(not RIC_DIR, reason="NIMBUS_RIC_DIR not set (see module doc)")


def test_aws_lambda_ric_serves_invocations(lam, make_function):
    fn = make_function(runtime="provided", handler="index.handler", zip=ric_zip(), Timeout=10)
    first = lam.invoke(FunctionName=fn.name, Payload=b'{"n": 1}', LogType="Tail")
    body = json.loads(first["Payload"].read())
    assert "FunctionError" not in first
    assert body["via"] == "aws-lambda-ric"
    assert body["event"] == {"n": 1}
    assert body["requestId"] == first["ResponseMetadata"]["HTTPHeaders"]["x-amzn-requestid"]
    assert body["functionName"] == fn.name
    assert body["invokedFunctionArn"] == fn.arn
    assert 0 < body["remaining"] <= 10000
    log = base64.b64decode(first["LogResult"]).decode()
    assert f"REPORT RequestId: {body['requestId']}" in log

    second = json.loads(lam.invoke(FunctionName=fn.name, Payload=b'{"n": 2}')["Payload"].read())
    assert second["event"] == {"n": 2}
    assert second["pid"] == body["pid"], "the client's process should serve warm invokes"


def test_aws_lambda_ric_reports_errors(lam, make_function):
    fn = make_function(runtime="provided", handler="index.handler", zip=ric_zip())
    resp = lam.invoke(FunctionName=fn.name, Payload=b'{"fail": true}')
    assert resp["FunctionError"] == "Unhandled"
    err = json.loads(resp["Payload"].read())
    assert err["errorType"] == "TypeError"
    assert err["errorMessage"] == "ric boom"
    # The instance survives a handled exception and serves the next event.
    ok = json.loads(lam.invoke(FunctionName=fn.name, Payload=b"{}")["Payload"].read())
    assert ok["via"] == "aws-lambda-ric"


def test_aws_lambda_ric_missing_handler_is_an_init_error(lam, make_function):
    fn = make_function(runtime="provided", handler="index.nope", zip=ric_zip())
    resp = lam.invoke(FunctionName=fn.name, Payload=b"{}")
    assert resp["FunctionError"] == "Unhandled"
    err = json.loads(resp["Payload"].read())
    assert err["errorType"] == "Runtime.HandlerNotFound"
