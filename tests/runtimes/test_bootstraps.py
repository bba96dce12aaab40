"""Unit tests of the runtime bootstraps nimbus ships (runtimes/python3.11,
runtimes/nodejs20.x) and of the custom-runtime examples (examples/hello-provided,
examples/echo-provided-cpp), run against fake_runtime_api.FakeRuntimeAPI instead
of nimbus.

    /usr/bin/python3 -m pytest tests/runtimes -q
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import textwrap
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

from fake_runtime_api import FakeRuntimeAPI  # noqa: E402

REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
PY_BOOTSTRAP = os.path.join(REPO, "runtimes", "python3.11", "bootstrap")
NODE_BOOTSTRAP = os.path.join(REPO, "runtimes", "nodejs20.x", "bootstrap")
SH_BOOTSTRAP = os.path.join(REPO, "examples", "hello-provided", "bootstrap")
CPP_DIR = os.path.join(REPO, "examples", "echo-provided-cpp")

ARN = "arn:aws:lambda:us-east-1:123456789012:function:test-fn:live"
WAIT = 15.0  # generous: the test machine may be busy


# --------------------------------------------------------------------------- fixtures

@pytest.fixture
def api():
    fake = FakeRuntimeAPI().start()
    yield fake
    fake.stop()


class Runner(object):
    """Starts bootstraps like nimbus does (exec, cwd = task root, full Lambda
    environment) and kills them (their whole process group) at the end."""

    def __init__(self, api, tmp_path):
        self.api = api
        self.tmp_path = tmp_path
        self.procs = []

    def env(self, task_dir, handler, bootstrap, extra=None):
        env = {
            "AWS_LAMBDA_RUNTIME_API": self.api.address,
            "_HANDLER": handler,
            "LAMBDA_TASK_ROOT": str(task_dir),
            "LAMBDA_RUNTIME_DIR": os.path.dirname(bootstrap),
            "AWS_LAMBDA_FUNCTION_NAME": "test-fn",
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
            "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/test-fn",
            "AWS_LAMBDA_LOG_STREAM_NAME": "2024/01/01/[$LATEST]abcdef",
            "TZ": ":UTC",
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "HOME": str(self.tmp_path),
            "TMPDIR": str(self.tmp_path),
            "FUNCTION_OWN_VAR": "own-value",
        }
        env.update(extra or {})
        return env

    def start(self, bootstrap, task_dir, handler="app.handler", extra_env=None):
        log_path = self.tmp_path / ("instance-%d.log" % len(self.procs))
        log = open(log_path, "wb")
        proc = subprocess.Popen([bootstrap], cwd=str(task_dir), env=self.env(task_dir, handler, bootstrap, extra_env),
                                stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        proc.log_path = log_path
        self.procs.append((proc, log))
        return proc

    def stop(self):
        for proc, log in self.procs:
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            try:
                proc.wait(5)
            except subprocess.TimeoutExpired:
                pass
            log.close()


@pytest.fixture
def runner(api, tmp_path):
    r = Runner(api, tmp_path)
    yield r
    r.stop()


def log_of(proc):
    with open(proc.log_path, "rb") as f:
        return f.read().decode("utf-8", "replace")


def write_files(root, files):
    root.mkdir(parents=True, exist_ok=True)
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(content))
    return root


def task(tmp_path, files, name="task"):
    return write_files(tmp_path / name, files)


def wait_exit(proc, timeout=WAIT):
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        pytest.fail("bootstrap did not exit; log:\n" + log_of(proc))


def result(api, rid, proc, kind="response"):
    try:
        rec = api.wait_result(rid, WAIT)
    except TimeoutError:
        pytest.fail("no result for %s; log:\n%s" % (rid, log_of(proc)))
    assert rec.kind == kind, (rec, log_of(proc))
    return rec


def test_bootstraps_are_executable_with_shebangs():
    for path, shebang in ((PY_BOOTSTRAP, "#!/usr/bin/python3 -S"), (NODE_BOOTSTRAP, "#!/usr/bin/node"),
                          (SH_BOOTSTRAP, "#!/bin/sh")):
        assert os.access(path, os.X_OK), path
        with open(path) as f:
            assert f.readline().rstrip("\n") == shebang, path
    assert os.access(os.path.join(CPP_DIR, "build.sh"), os.X_OK)


# --------------------------------------------------------------------------- python

PY_APP = """
import os, sys

def handler(event, context):
    return {
        "event": event,
        "pid": os.getpid(),
        "request_id": context.aws_request_id,
        "function_name": context.function_name,
        "function_version": context.function_version,
        "memory": context.memory_limit_in_mb,
        "arn": context.invoked_function_arn,
        "log_group": context.log_group_name,
        "log_stream": context.log_stream_name,
        "remaining": context.get_remaining_time_in_millis(),
        "trace": os.environ.get("_X_AMZN_TRACE_ID"),
        "own_var": os.environ.get("FUNCTION_OWN_VAR"),
        "custom": context.client_context.custom if context.client_context else None,
        "cognito_id": context.identity.cognito_identity_id,
        "site_loaded": "site" in sys.modules,
        "cwd": os.getcwd(),
    }

def boom(event, context):
    raise ValueError("bad input: %s" % event.get("x"))

def unserializable(event, context):
    return {"s": {1, 2}}

def quiet(event, context):
    print("partial-line-no-newline", end="")
    sys.stderr.write("to-stderr\\n")
    return None
"""


def test_python_success_and_context(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": PY_APP})
    rid = api.add_event({"name": "x"}, timeout_s=5, arn=ARN, trace_id="Root=1-abc;Parent=def;Sampled=1",
                        client_context={"custom": {"k": "v"}, "env": {}, "client": {}},
                        cognito_identity={"cognitoIdentityId": "cid", "cognitoIdentityPoolId": "pool"})
    proc = runner.start(PY_BOOTSTRAP, root)
    rec = result(api, rid, proc)
    assert rec.headers["content-type"] == "application/json"
    body = rec.json()
    assert body["event"] == {"name": "x"}
    assert body["pid"] == proc.pid  # the bootstrap is exec'd, no wrapper process
    assert body["request_id"] == rid
    assert body["function_name"] == "test-fn"
    assert body["function_version"] == "$LATEST"
    assert body["memory"] == 256
    assert body["arn"] == ARN
    assert body["log_group"] == "/aws/lambda/test-fn"
    assert body["log_stream"] == "2024/01/01/[$LATEST]abcdef"
    assert 0 < body["remaining"] <= 5000
    assert body["trace"] == "Root=1-abc;Parent=def;Sampled=1"
    assert body["own_var"] == "own-value"
    assert body["custom"] == {"k": "v"}
    assert body["cognito_id"] == "cid"
    assert body["site_loaded"] is False  # started with -S
    assert body["cwd"] == str(root)


def test_python_warm_loop_serves_many_events_on_one_connection(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": PY_APP})
    proc = runner.start(PY_BOOTSTRAP, root)
    r1 = api.add_event({"n": 1})
    b1 = result(api, r1, proc).json()
    r2 = api.add_event({"n": 2}, trace_id=None)
    b2 = result(api, r2, proc).json()
    assert b1["event"] == {"n": 1} and b2["event"] == {"n": 2}
    assert b1["pid"] == b2["pid"] == proc.pid
    assert b2["trace"] is None  # _X_AMZN_TRACE_ID follows each event
    api.wait_next_calls(3)  # asks for the next one again
    assert len(set(api.client_ports)) == 1, api.client_ports  # keep-alive
    assert proc.poll() is None


def test_python_exception_is_reported_and_process_survives(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": PY_APP})
    proc = runner.start(PY_BOOTSTRAP, root, handler="app.boom")
    rid = api.add_event({"x": 7})
    rec = result(api, rid, proc, kind="error")
    assert rec.headers["lambda-runtime-function-error-type"] == "Unhandled"
    body = rec.json()
    assert body["errorType"] == "ValueError"
    assert body["errorMessage"] == "bad input: 7"
    assert body["requestId"] == rid
    assert isinstance(body["stackTrace"], list) and body["stackTrace"]
    assert all(isinstance(line, str) for line in body["stackTrace"])
    assert "app.py" in body["stackTrace"][-1] and "raise ValueError" in body["stackTrace"][-1]
    assert not any("nimbus_ric" in line for line in body["stackTrace"])
    assert "[ERROR] ValueError: bad input: 7" in log_of(proc)
    rid2 = api.add_event({"x": 8})
    assert result(api, rid2, proc, kind="error").json()["errorMessage"] == "bad input: 8"
    assert proc.poll() is None


def test_python_marshal_error(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": PY_APP})
    proc = runner.start(PY_BOOTSTRAP, root, handler="app.unserializable")
    rid = api.add_event({})
    body = result(api, rid, proc, kind="error").json()
    assert body["errorType"] == "Runtime.MarshalError"
    assert body["errorMessage"].startswith("Unable to marshal response:")
    assert "set" in body["errorMessage"]


def test_python_event_edge_cases(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": PY_APP})
    proc = runner.start(PY_BOOTSTRAP, root)
    rid = api.add_event(raw=b"")
    assert result(api, rid, proc).json()["event"] == {}
    rid = api.add_event(raw=b'"just a string"')
    assert result(api, rid, proc).json()["event"] == "just a string"
    rid = api.add_event(raw=b"{not json")
    body = result(api, rid, proc, kind="error").json()
    assert body["errorType"] == "Runtime.UnmarshalError"
    rid = api.add_event({"ok": True})
    assert result(api, rid, proc).json()["event"] == {"ok": True}


def test_python_returns_null_and_output_is_unbuffered(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": PY_APP})
    proc = runner.start(PY_BOOTSTRAP, root, handler="app.quiet")
    rid = api.add_event({})
    assert result(api, rid, proc).body == b"null"
    time.sleep(0.2)
    out = log_of(proc)  # the process is still running: nothing may sit in a buffer
    assert "partial-line-no-newline" in out and "to-stderr" in out
    assert proc.poll() is None


def test_python_handler_paths_and_sys_path(api, runner, tmp_path):
    pp = write_files(tmp_path / "extra", {"from_pythonpath.py": "VALUE = 'pp'\n"})
    root = task(tmp_path, {
        "pkg/__init__.py": "",
        "pkg/mod.py": """
            import dep, from_pythonpath
            def fn(event, context):
                return {"dep": dep.VALUE, "pp": from_pythonpath.VALUE}
        """,
        "nspkg/inner/handler.py": "def go(event, context):\n    return 'namespace'\n",
        "python/dep.py": "VALUE = 'layer-style'\n",
    })
    for handler, expected in (("pkg/mod.fn", {"dep": "layer-style", "pp": "pp"}),
                              ("pkg.mod.fn", {"dep": "layer-style", "pp": "pp"}),
                              ("nspkg/inner/handler.go", "namespace")):
        proc = runner.start(PY_BOOTSTRAP, root, handler=handler, extra_env={"PYTHONPATH": str(pp)})
        rid = api.add_event({})
        assert result(api, rid, proc).json() == expected, handler
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(5)


def test_python_logging_module_gets_lambda_format(api, runner, tmp_path):
    root = task(tmp_path, {"app.py": """
        import logging
        logger = logging.getLogger()
        logger.setLevel(logging.INFO)
        def handler(event, context):
            logger.info("hello from logging")
            return 1
    """})
    proc = runner.start(PY_BOOTSTRAP, root)
    rid = api.add_event({})
    assert result(api, rid, proc).body == b"1"
    lines = [l for l in log_of(proc).splitlines() if "hello from logging" in l]
    assert lines and lines[0].startswith("[INFO]\t") and ("\t%s\t" % rid) in lines[0]


@pytest.mark.parametrize("files,handler,error_type,message", [
    ({}, "app.handler", "Runtime.ImportModuleError", "Unable to import module 'app': No module named 'app'"),
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "app.nope", "Runtime.HandlerNotFound",
     "Handler 'nope' missing on module 'app'"),
    ({"app.py": "def handler(e, c:\n    return 1\n"}, "app.handler", "Runtime.UserCodeSyntaxError",
     "Syntax error in module 'app'"),
    ({"app.py": "import no_such_dependency_xyz\n"}, "app.handler", "Runtime.ImportModuleError",
     "Unable to import module 'app': No module named 'no_such_dependency_xyz'"),
    ({"app.py": "def handler(e, c):\n    return 1\n"}, "app", "Runtime.MalformedHandlerName", "Bad handler 'app'"),
    ({}, "sys.handler", "Runtime.BuiltInModuleConflict", "Cannot use built-in module sys"),
    # an exception raised by the module body is reported as itself, like awslambdaric
    ({"app.py": "raise RuntimeError('init exploded')\n"}, "app.handler", "RuntimeError", "init exploded"),
])
def test_python_init_errors(api, runner, tmp_path, files, handler, error_type, message):
    root = task(tmp_path, files)
    proc = runner.start(PY_BOOTSTRAP, root, handler=handler)
    rec = api.wait_init_error(WAIT)
    assert rec.headers["lambda-runtime-function-error-type"] == error_type
    body = rec.json()
    assert body["errorType"] == error_type
    assert message in body["errorMessage"], body
    assert isinstance(body["stackTrace"], list)
    assert wait_exit(proc) != 0
    assert api.next_calls == 0
    assert error_type in log_of(proc)


def test_python_json_core_matches_json_module():
    """nimbus_ric uses _json directly (to skip importing json/re at start-up):
    it must encode and decode exactly like json.dumps/json.loads, and report
    bad input as ValueError even while the json package is not loaded."""
    script = textwrap.dedent(r"""
        import sys
        sys.path.insert(0, %r)
        import nimbus_ric as n
        errors = []
        for bad in [b'{not json', b'', b'[1,', b'1 2', b'nul', b'{"a" 1}', b'"\\q"']:
            try:
                n.json_loads(bad)
                errors.append(None)
            except ValueError as e:
                errors.append(type(e).__name__)
        import json, decimal
        samples = [None, True, 1, -2.5, 1e300, 10**30, "h\u00e9llo\n\"", [1, {"a": [None, "x"]}],
                   {"k": {"nested": [1.0, 2]}, "u": "\u2603"}, {1: "a", None: 2, True: 3}, [], {}, 0.1,
                   float("inf"), "x" * 1000]
        for o in samples:
            assert n.json_dumps(o) == json.dumps(o), o
            enc = json.dumps(o)
            assert repr(n.json_loads(enc.encode())) == repr(json.loads(enc)), enc
        nan = n.json_loads(b' {"a": NaN} ')["a"]
        assert nan != nan
        assert n.json_dumps([decimal.Decimal("1.5"), decimal.Decimal("2")], n._json_default) == "[1.5, 2]"
        print(",".join(str(e) for e in errors))
    """) % os.path.dirname(PY_BOOTSTRAP)
    out = subprocess.run(["/usr/bin/python3", "-S", "-c", script], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert "None" not in out.stdout and out.stdout.count("Error") == 7, out.stdout


def test_python_hello_example(api, runner):
    root = os.path.join(REPO, "examples", "hello-python")
    proc = runner.start(PY_BOOTSTRAP, root, handler="app.handler")
    rid = api.add_event({"name": "nimbus"})
    body = result(api, rid, proc).json()
    assert body["message"] == "Hello, nimbus!"
    assert body["pid"] == proc.pid
    assert body["request_id"] == rid
    rid = api.add_event({})
    assert result(api, rid, proc).json()["message"] == "Hello, world!"


# --------------------------------------------------------------------------- node

NODE_CJS = """
exports.handler = async (event, context) => ({
  event,
  pid: process.pid,
  requestId: context.awsRequestId,
  functionName: context.functionName,
  functionVersion: context.functionVersion,
  memory: context.memoryLimitInMB,
  arn: context.invokedFunctionArn,
  logGroup: context.logGroupName,
  logStream: context.logStreamName,
  remaining: context.getRemainingTimeInMillis(),
  waits: context.callbackWaitsForEmptyEventLoop,
  trace: process.env._X_AMZN_TRACE_ID || null,
  ownVar: process.env.FUNCTION_OWN_VAR,
  clientContext: context.clientContext || null,
  identity: context.identity || null,
});
"""


def test_node_success_and_context(api, runner, tmp_path):
    root = task(tmp_path, {"index.js": NODE_CJS})
    rid = api.add_event({"name": "x"}, timeout_s=5, arn=ARN, trace_id="Root=1-abc",
                        client_context={"custom": {"k": "v"}}, cognito_identity={"cognitoIdentityId": "cid"})
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.handler")
    rec = result(api, rid, proc)
    assert rec.headers["content-type"] == "application/json"
    body = rec.json()
    assert body["event"] == {"name": "x"}
    assert body["pid"] == proc.pid
    assert body["requestId"] == rid
    assert body["functionName"] == "test-fn"
    assert body["functionVersion"] == "$LATEST"
    assert body["memory"] == "256"
    assert body["arn"] == ARN
    assert body["logGroup"] == "/aws/lambda/test-fn"
    assert body["logStream"] == "2024/01/01/[$LATEST]abcdef"
    assert 0 < body["remaining"] <= 5000
    assert body["waits"] is True
    assert body["trace"] == "Root=1-abc"
    assert body["ownVar"] == "own-value"
    assert body["clientContext"] == {"custom": {"k": "v"}}
    assert body["identity"] == {"cognitoIdentityId": "cid"}


def test_node_warm_loop_serves_many_events_on_one_connection(api, runner, tmp_path):
    root = task(tmp_path, {"index.js": NODE_CJS})
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.handler")
    r1 = api.add_event({"n": 1})
    b1 = result(api, r1, proc).json()
    r2 = api.add_event({"n": 2})
    b2 = result(api, r2, proc).json()
    assert b1["event"] == {"n": 1} and b2["event"] == {"n": 2}
    assert b1["pid"] == b2["pid"] == proc.pid
    assert b2["trace"] is None
    api.wait_next_calls(3)
    assert len(set(api.client_ports)) == 1, api.client_ports  # keep-alive agent
    assert proc.poll() is None


NODE_STYLES = {
    "index.js": """
        exports.asyncFn = async (event) => ({ style: 'async', n: event.n });
        exports.promiseFn = (event) => new Promise((resolve) => setTimeout(() => resolve({ style: 'promise', n: event.n }), 20));
        exports.callbackFn = (event, context, callback) => { setTimeout(() => callback(null, { style: 'callback', n: event.n }), 20); };
        exports.syncCallbackFn = (event, context, callback) => callback(null, { style: 'sync-callback', n: event.n });
        exports.doneFn = (event, context) => { context.succeed({ style: 'succeed', n: event.n }); };
        exports.undefinedFn = async () => undefined;
        exports.syncValueFn = (event) => ({ ignored: true });  // Lambda answers null here
        exports.nested = { deeper: { fn: async () => 'nested' } };
        exports.logFn = async (event, context) => { console.log('log-line', { a: 1 }); return 'logged'; };
    """,
    "esm.mjs": """
        const data = await Promise.resolve({ style: 'esm' });  // top-level await
        export const handler = async (event) => ({ ...data, n: event.n });
    """,
    "legacy.cjs": "module.exports.handler = async (event) => ({ style: 'cjs', n: event.n });\n",
    "src/app.js": "exports.handler = async (event) => ({ style: 'subdir', n: event.n });\n",
    "modpkg/package.json": '{"type": "module"}\n',
    "modpkg/index.js": "export const handler = async (event) => ({ style: 'esm-js', n: event.n });\n",
}


@pytest.mark.parametrize("handler,expected", [
    ("index.asyncFn", {"style": "async", "n": 1}),
    ("index.promiseFn", {"style": "promise", "n": 1}),
    ("index.callbackFn", {"style": "callback", "n": 1}),
    ("index.syncCallbackFn", {"style": "sync-callback", "n": 1}),
    ("index.doneFn", {"style": "succeed", "n": 1}),
    ("index.undefinedFn", None),
    ("index.syncValueFn", None),
    ("index.nested.deeper.fn", "nested"),
    ("esm.handler", {"style": "esm", "n": 1}),
    ("legacy.handler", {"style": "cjs", "n": 1}),
    ("src/app.handler", {"style": "subdir", "n": 1}),
    ("modpkg/index.handler", {"style": "esm-js", "n": 1}),
])
def test_node_handler_styles(api, runner, tmp_path, handler, expected):
    root = task(tmp_path, NODE_STYLES)
    proc = runner.start(NODE_BOOTSTRAP, root, handler=handler)
    rid = api.add_event({"n": 1})
    assert result(api, rid, proc).json() == expected
    rid = api.add_event({"n": 1})  # and again, warm
    assert result(api, rid, proc).json() == expected


def test_node_console_format(api, runner, tmp_path):
    root = task(tmp_path, NODE_STYLES)
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.logFn")
    rid = api.add_event({})
    assert result(api, rid, proc).json() == "logged"
    line = [l for l in log_of(proc).splitlines() if "log-line" in l][0]
    parts = line.split("\t")
    assert parts[1:] == [rid, "INFO", "log-line { a: 1 }"], line
    assert parts[0].endswith("Z") and "T" in parts[0]


NODE_WAIT = {"index.js": """
    exports.waits = (event, context, callback) => {
      setTimeout(() => {}, 700);       // keeps the loop busy after the callback
      callback(null, 'waited');
    };
    exports.nowait = (event, context, callback) => {
      context.callbackWaitsForEmptyEventLoop = false;
      setTimeout(() => {}, 60000);     // would block the answer for a minute
      callback(null, 'at-once');
    };
"""}


def test_node_callback_waits_for_empty_event_loop(api, runner, tmp_path):
    root = task(tmp_path, NODE_WAIT)
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.waits")
    api.wait_next_calls(1)
    t0 = time.time()
    rid = api.add_event({})
    assert result(api, rid, proc).json() == "waited"
    assert time.time() - t0 >= 0.6
    rid = api.add_event({})
    assert result(api, rid, proc).json() == "waited"


def test_node_callback_without_waiting_answers_at_once(api, runner, tmp_path):
    root = task(tmp_path, NODE_WAIT)
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.nowait")
    api.wait_next_calls(1)
    t0 = time.time()
    rid = api.add_event({})
    assert result(api, rid, proc).json() == "at-once"
    assert time.time() - t0 < 5
    rid = api.add_event({})  # the next event is taken while the timer is pending
    assert result(api, rid, proc).json() == "at-once"


@pytest.mark.parametrize("handler,error_type,message", [
    ("index.throwsError", "TypeError", "bad thing"),
    ("index.throwsSync", "Error", "sync bad"),
    ("index.throwsString", "string", "just a string"),
    ("index.rejects", "RangeError", "rejected"),
    ("index.callbackError", "Error", "via callback"),
    ("index.customError", "MyError", "custom"),
])
def test_node_errors(api, runner, tmp_path, handler, error_type, message):
    root = task(tmp_path, {"index.js": """
        exports.throwsError = async () => { throw new TypeError('bad thing'); };
        exports.throwsSync = () => { throw new Error('sync bad'); };
        exports.throwsString = async () => { throw 'just a string'; };
        exports.rejects = () => Promise.reject(new RangeError('rejected'));
        exports.callbackError = (e, c, callback) => callback(new Error('via callback'));
        class MyError extends Error { constructor(m) { super(m); this.name = 'MyError'; } }
        exports.customError = async () => { throw new MyError('custom'); };
    """})
    proc = runner.start(NODE_BOOTSTRAP, root, handler=handler)
    rid = api.add_event({})
    rec = result(api, rid, proc, kind="error")
    assert rec.headers["lambda-runtime-function-error-type"] == "Unhandled"
    body = rec.json()
    assert body["errorType"] == error_type
    assert body["errorMessage"] == message
    assert isinstance(body["trace"], list)
    if error_type != "string":
        assert body["trace"][0].startswith(error_type) and any("index.js" in l for l in body["trace"])
    # the instance survives a function error
    rid = api.add_event({})
    assert result(api, rid, proc, kind="error").json()["errorMessage"] == message
    assert proc.poll() is None


def test_node_uncaught_exception_fails_invocation_and_exits(api, runner, tmp_path):
    root = task(tmp_path, {"index.js": """
        exports.handler = (event, context, callback) => {
          setTimeout(() => { throw new Error('from a timer'); }, 10);
        };
    """})
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.handler")
    rid = api.add_event({})
    body = result(api, rid, proc, kind="error").json()
    assert body["errorType"] == "Error" and body["errorMessage"] == "from a timer"
    assert wait_exit(proc) != 0


def test_node_unhandled_rejection_fails_invocation_and_exits(api, runner, tmp_path):
    root = task(tmp_path, {"index.js": """
        exports.handler = (event, context, callback) => {
          Promise.reject(new Error('nobody catches me'));
        };
    """})
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.handler")
    rid = api.add_event({})
    body = result(api, rid, proc, kind="error").json()
    assert body["errorType"] == "Runtime.UnhandledPromiseRejection"
    assert "nobody catches me" in body["errorMessage"]
    assert wait_exit(proc) != 0


def test_node_unmarshal_and_empty_event(api, runner, tmp_path):
    root = task(tmp_path, {"index.js": "exports.handler = async (event) => ({ event });\n"})
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.handler")
    rid = api.add_event(raw=b"")
    assert result(api, rid, proc).json() == {"event": {}}
    rid = api.add_event(raw=b"{nope")
    assert result(api, rid, proc, kind="error").json()["errorType"] == "Runtime.UnmarshalError"
    rid = api.add_event([1, 2])
    assert result(api, rid, proc).json() == {"event": [1, 2]}


@pytest.mark.parametrize("files,handler,error_type,message", [
    ({}, "index.handler", "Runtime.ImportModuleError", "Cannot find module 'index'"),
    ({"index.js": "exports.other = async () => 1;\n"}, "index.handler", "Runtime.HandlerNotFound",
     "index.handler is undefined or not exported"),
    ({"index.js": "exports.handler = 42;\n"}, "index.handler", "Runtime.HandlerNotFound",
     "index.handler is not a function"),
    ({"index.js": "exports.handler = async () => {;\n"}, "index.handler", "Runtime.UserCodeSyntaxError",
     "SyntaxError"),
    ({"index.mjs": "export const handler = async () => {;\n"}, "index.handler", "Runtime.UserCodeSyntaxError",
     "SyntaxError"),
    ({"index.js": "require('no-such-package-xyz');\n"}, "index.handler", "Runtime.ImportModuleError",
     "no-such-package-xyz"),
    ({"index.js": "exports.handler = async () => 1;\n"}, "index", "Runtime.MalformedHandlerName", "Bad handler"),
    ({"index.js": "exports.handler = async () => 1;\n"}, "../index.handler", "Runtime.MalformedHandlerName",
     "'../' not allowed"),
    ({"index.js": "throw new RangeError('init exploded');\n"}, "index.handler", "RangeError", "init exploded"),
])
def test_node_init_errors(api, runner, tmp_path, files, handler, error_type, message):
    root = task(tmp_path, files)
    proc = runner.start(NODE_BOOTSTRAP, root, handler=handler)
    rec = api.wait_init_error(WAIT)
    assert rec.headers["lambda-runtime-function-error-type"] == error_type
    body = rec.json()
    assert body["errorType"] == error_type
    assert message in body["errorMessage"], body
    assert isinstance(body["trace"], list)
    assert wait_exit(proc) != 0
    assert api.next_calls == 0


def test_node_hello_example(api, runner):
    root = os.path.join(REPO, "examples", "hello-node")
    proc = runner.start(NODE_BOOTSTRAP, root, handler="index.handler")
    rid = api.add_event({"name": "nimbus"})
    body = result(api, rid, proc).json()
    assert body["message"] == "Hello, nimbus!"
    assert body["pid"] == proc.pid
    assert body["request_id"] == rid
    assert body["memory_limit_in_mb"] == 256


# --------------------------------------------------------------------------- provided runtimes

def _echo_checks(api, proc):
    r1 = api.add_event({"hello": "world"})
    assert result(api, r1, proc).json() == {"echo": {"hello": "world"}}
    r2 = api.add_event(raw=b"")
    assert result(api, r2, proc).json() == {"echo": {}}
    big = {"blob": "x" * (2 * 1024 * 1024)}  # > 1 MiB: curl sends Expect: 100-continue
    r3 = api.add_event(big)
    assert result(api, r3, proc).json() == {"echo": big}
    assert proc.poll() is None  # one process served them all
    out = log_of(proc)
    assert r1 in out and r2 in out


@pytest.mark.skipif(shutil.which("curl") is None, reason="curl is not installed")
def test_provided_shell_example_echoes(api, runner, tmp_path):
    root = tmp_path / "provided"
    root.mkdir()
    shutil.copy(SH_BOOTSTRAP, root / "bootstrap")
    proc = runner.start(str(root / "bootstrap"), root, handler="echo")
    _echo_checks(api, proc)


@pytest.fixture(scope="module")
def cpp_bootstrap(tmp_path_factory):
    if shutil.which("g++") is None:
        pytest.skip("g++ is not installed")
    out = tmp_path_factory.mktemp("cpp") / "bootstrap"
    subprocess.run([os.path.join(CPP_DIR, "build.sh"), str(out)], check=True, capture_output=True, timeout=300)
    return str(out)


def test_provided_cpp_example_echoes(api, runner, tmp_path, cpp_bootstrap):
    proc = runner.start(cpp_bootstrap, tmp_path, handler="echo")
    _echo_checks(api, proc)
    api.wait_next_calls(4)
    assert len(set(api.client_ports)) == 1  # one kept-alive connection


def test_provided_cpp_example_error_modes(api, runner, tmp_path, cpp_bootstrap):
    proc = runner.start(cpp_bootstrap, tmp_path, handler="error")
    rid = api.add_event({})
    rec = result(api, rid, proc, kind="error")
    assert rec.headers["lambda-runtime-function-error-type"] == "Unhandled"
    assert rec.json()["errorType"] == "EchoError"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait(5)

    proc = runner.start(cpp_bootstrap, tmp_path, handler="init-error")
    rec = api.wait_init_error(WAIT)
    assert rec.json()["errorType"] == "Runtime.EchoInitError"
    assert wait_exit(proc) == 1


@pytest.mark.parametrize("which", ["python", "node", "cpp"])
def test_fatal_runtime_api_failure_exits_with_one_line(runner, tmp_path, which, request):
    """No Runtime API listening: log one line to stderr and exit non-zero."""
    root = task(tmp_path, {"app.py": PY_APP, "index.js": NODE_CJS})
    bootstrap, handler = {"python": (PY_BOOTSTRAP, "app.handler"), "node": (NODE_BOOTSTRAP, "index.handler"),
                          "cpp": (None, "echo")}[which]
    if which == "cpp":
        bootstrap = request.getfixturevalue("cpp_bootstrap")
    # a port nothing listens on: bind, read the port, close
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    proc = runner.start(bootstrap, root, handler=handler, extra_env={"AWS_LAMBDA_RUNTIME_API": "127.0.0.1:%d" % port})
    assert wait_exit(proc) != 0
    out = log_of(proc).strip().splitlines()
    assert len(out) == 1 and "fatal" in out[0], out
