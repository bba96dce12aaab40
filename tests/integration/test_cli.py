"""The nimbus CLI verbs and the aws CLI v2 (Debian's /usr/bin/aws) against a live server."""
import base64
import json

import botocore.exceptions
import pytest

import nimbus_helpers as h

HELLO = h.REPO_ROOT / "examples" / "hello-python"


def ok(result):
    assert result.returncode == 0, str(result)
    return result


def failed(result):
    assert result.returncode != 0, str(result)
    return result


def json_in(text: str):
    """The first JSON object/array printed in `text` (CLIs may add lines around it)."""
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                return decoder.raw_decode(text[i:])[0]
            except ValueError:
                continue
    raise AssertionError(f"no JSON in output: {text[:1000]!r}")


@pytest.fixture
def cleanup(lam):
    names = []
    yield names
    for name in names:
        try:
            lam.delete_function(FunctionName=name)
        except botocore.exceptions.ClientError:
            pass


# ---------------------------------------------------------------------------- nimbus CLI

def test_nimbus_cli_lifecycle(cli, lam, cleanup):
    if not (HELLO / "app.py").is_file():
        pytest.fail(f"{HELLO}/app.py is missing")
    name = h.unique_name("cli-hello")
    cleanup.append(name)

    ok(cli("deploy", HELLO, "--name", name, "--runtime", "python3.11",
           "--handler", "app.handler"))
    cfg = h.wait_ready(lam, name)
    assert cfg["Runtime"] == "python3.11" and cfg["Handler"] == "app.handler"

    r = ok(cli("invoke", name, "--data", '{"name": "nimbus"}'))
    result = json_in(r.stdout)
    assert result["message"] == "Hello, nimbus!", r.stdout
    assert result["function_name"] == name

    r = ok(cli("invoke", name, "--data", '{"name": "again"}'))
    again = json_in(r.stdout)
    assert again["message"] == "Hello, again!"
    assert again["pid"] == result["pid"], "the warm instance was not reused"

    r = ok(cli("ls"))
    assert name in r.stdout
    r = ok(cli("ls", "--json"))
    listed = json_in(r.stdout)
    functions = listed["Functions"] if isinstance(listed, dict) else listed
    assert name in [f["FunctionName"] for f in functions]

    r = ok(cli("get", name))
    assert name in r.stdout and "python3.11" in r.stdout

    # the greeting the function printed reaches `nimbus logs` (poll: logs may lag)
    h.wait_until(lambda: "greeting nimbus" in ok(cli("logs", name)).stdout, 15,
                 "`nimbus logs` to show the function's output")
    logs = ok(cli("logs", name)).stdout
    assert "REPORT RequestId" in logs or "START RequestId" in logs, logs

    # deploy again updates the code in place
    ok(cli("deploy", HELLO, "--name", name, "--description", "second deploy"))
    cfg = h.wait_ready(lam, name)
    assert cfg["Description"] == "second deploy"
    assert json_in(ok(cli("invoke", name, "--data", "{}")).stdout)["message"] == "Hello, world!"

    ok(cli("rm", name))
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.get_function(FunctionName=name)
    assert h.error_code(info.value) == "ResourceNotFoundException"
    failed(cli("get", name))
    failed(cli("invoke", name, "--data", "{}"))
    failed(cli("rm", name))
    assert name not in ok(cli("ls")).stdout


def test_nimbus_cli_invoke_function_error_and_payload_file(cli, make_function, tmp_path):
    fn = make_function("python3.11")
    event = tmp_path / "event.json"
    event.write_text(json.dumps({"action": "fail", "message": "cli"}))
    r = cli("invoke", fn.name, "--data", f"@{event}")
    assert "boom: cli" in r.stdout + r.stderr, str(r)
    assert r.returncode != 0, "a function error must give a non-zero exit code\n" + str(r)
    r = ok(cli("invoke", fn.name, "--data", "@-", input_text='{"from": "stdin"}'))
    assert json_in(r.stdout) == {"from": "stdin"}


def test_nimbus_cli_invoke_log_and_async(cli, make_function):
    fn = make_function("python3.11")
    r = ok(cli("invoke", fn.name, "--log", "--data", '{"action": "log", "marker": "tailme"}'))
    assert "python-stdout tailme" in r.stderr, str(r)
    assert "REPORT RequestId" in r.stderr, str(r)
    r = ok(cli("invoke", fn.name, "--async", "--data", '{"action": "log", "marker": "async"}'))
    assert r.stdout.strip(), "--async prints the request id"


def test_nimbus_cli_errors(cli, server):
    missing = h.unique_name("missing")
    r = failed(cli("get", missing))
    assert "not found" in (r.stdout + r.stderr).lower(), str(r)
    failed(cli("rm", missing))
    failed(cli("invoke", missing, "--data", "{}"))
    failed(cli("deploy", "/nonexistent/folder", "--name", missing, "--runtime", "python3.11",
               "--handler", "app.handler"))
    failed(cli("no-such-verb"))
    # wrong credentials are refused (flags override the environment)
    r = failed(cli("ls", "--access-key", server.access_key, "--secret-key", "wrong-secret"))
    assert "wrong-secret" not in r.stdout + r.stderr


# ------------------------------------------------------------------------------- aws CLI

def test_aws_cli_create_invoke_list_delete(awscli, zip_of, tmp_path, cleanup):
    name = h.unique_name("awscli")
    code = zip_of("python")
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(code)
    cleanup.append(name)

    r = ok(awscli("lambda", "create-function", "--function-name", name,
                  "--runtime", "python3.11", "--handler", "app.main", "--role", h.ROLE,
                  "--zip-file", f"fileb://{zip_path}", "--timeout", "10",
                  "--environment", "Variables={COLOR=blue}"))
    created = json.loads(r.stdout)
    assert created["FunctionName"] == name
    assert created["CodeSha256"] == h.code_sha256(code)
    assert created["CodeSize"] == len(code)
    assert created["Timeout"] == 10

    ok(awscli("lambda", "wait", "function-active-v2", "--function-name", name))

    out = tmp_path / "out.json"
    r = ok(awscli("lambda", "invoke", "--function-name", name,
                  "--cli-binary-format", "raw-in-base64-out",
                  "--payload", '{"action": "info"}', "--log-type", "Tail", str(out)))
    meta = json.loads(r.stdout)
    assert meta["StatusCode"] == 200
    assert meta["ExecutedVersion"] == "$LATEST"
    assert "FunctionError" not in meta
    assert "START RequestId" in base64.b64decode(meta["LogResult"]).decode(errors="replace")
    result = json.loads(out.read_text())
    assert result["function_name"] == name
    assert result["env"]["COLOR"] == "blue"

    r = ok(awscli("lambda", "invoke", "--function-name", name,
                  "--cli-binary-format", "raw-in-base64-out",
                  "--payload", '{"action": "fail", "message": "aws"}', str(out)))
    assert json.loads(r.stdout)["FunctionError"] == "Unhandled"
    assert json.loads(out.read_text())["errorMessage"] == "boom: aws"

    r = ok(awscli("lambda", "list-functions"))  # CLI v2.9 uses the trailing-slash path
    assert name in [f["FunctionName"] for f in json.loads(r.stdout)["Functions"]]
    r = ok(awscli("lambda", "list-functions", "--max-items", "1"))
    assert len(json.loads(r.stdout)["Functions"]) == 1

    r = ok(awscli("lambda", "get-function", "--function-name", name))
    assert json.loads(r.stdout)["Configuration"]["FunctionName"] == name
    r = ok(awscli("lambda", "update-function-configuration", "--function-name", name,
                  "--memory-size", "256"))
    assert json.loads(r.stdout)["MemorySize"] == 256
    ok(awscli("lambda", "wait", "function-updated-v2", "--function-name", name))

    ok(awscli("lambda", "delete-function", "--function-name", name))
    r = failed(awscli("lambda", "get-function", "--function-name", name))
    assert "ResourceNotFoundException" in r.stderr, str(r)


def test_aws_cli_errors(awscli, zip_of, tmp_path, make_function):
    fn = make_function("python3.11", wait=False)
    zip_path = tmp_path / "fn.zip"
    zip_path.write_bytes(zip_of("python"))
    r = failed(awscli("lambda", "create-function", "--function-name", fn.name,
                      "--runtime", "python3.11", "--handler", "app.main", "--role", h.ROLE,
                      "--zip-file", f"fileb://{zip_path}"))
    assert "ResourceConflictException" in r.stderr, str(r)
    r = failed(awscli("lambda", "invoke", "--function-name", fn.name,
                      "--cli-binary-format", "raw-in-base64-out", "--payload", "not json",
                      str(tmp_path / "out")))
    assert "InvalidRequestContentException" in r.stderr, str(r)
