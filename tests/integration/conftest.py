"""Fixtures for the nimbus end-to-end tests.

One real `nimbus serve` process runs per test session (see `server`). Run with

    /usr/bin/python3 -m pytest tests/integration -q

Environment:
  NIMBUS_BIN              the nimbus binary (default <repo>/build/src/nimbus)
  NIMBUS_TEST_MARKER_DIR  a folder functions can write to and the tests can read
                          (default: a pytest temp folder)
"""
from __future__ import annotations

import dataclasses
import os
import secrets
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Callable, Optional

import boto3
import botocore.config
import botocore.exceptions
import pytest
import requests

import nimbus_helpers as h

ACCESS_KEY = "AKIDNIMBUSTEST"
_ABORTED = False  # set when the session stops early because the server died
AWS_CLI = "/usr/bin/aws"


def nimbus_bin() -> Path:
    return Path(os.environ.get("NIMBUS_BIN") or h.REPO_ROOT / "build" / "src" / "nimbus")


@dataclasses.dataclass
class Server:
    url: str
    host: str
    port: int
    data_dir: Path
    access_key: str
    secret_key: str
    log_path: Path
    proc: subprocess.Popen

    @property
    def pid(self) -> int:
        return self.proc.pid

    @property
    def bearer(self) -> str:
        return f"Bearer {self.access_key}:{self.secret_key}"

    def alive(self) -> bool:
        return self.proc.poll() is None

    def log_text(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def log_tail(self, lines: int = 40) -> str:
        return "\n".join(self.log_text().splitlines()[-lines:])


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_env(secret: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NIMBUS_") and not k.startswith("AWS_")}
    env["NIMBUS_ROOT_ACCESS_KEY_ID"] = ACCESS_KEY
    env["NIMBUS_ROOT_SECRET_ACCESS_KEY"] = secret
    return env


def start_server(work: Path, extra_args=()) -> Server:
    """Starts `nimbus serve` on a free loopback port with its data under `work`."""
    binary = nimbus_bin()
    if not binary.is_file() or not os.access(binary, os.X_OK):
        pytest.fail(f"nimbus binary not found at {binary} (build it, or set NIMBUS_BIN)",
                    pytrace=False)
    data_dir = work / "data"
    data_dir.mkdir()
    log_path = work / "server.stderr.log"
    stdout_path = work / "server.stdout.log"
    secret = "nimbus-" + secrets.token_hex(20)
    port = _free_port()
    cmd = [str(binary), "serve", "--listen", f"127.0.0.1:{port}", "--data", str(data_dir),
           "--keep-alive-seconds", "30", *extra_args]
    with open(log_path, "wb") as err, open(stdout_path, "wb") as out:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                env=_server_env(secret), cwd=work, start_new_session=True)
    srv = Server(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port,
                 data_dir=data_dir, access_key=ACCESS_KEY, secret_key=secret,
                 log_path=log_path, proc=proc)
    try:
        _wait_healthy(srv)
    except BaseException:
        _stop(srv, check=False)
        raise
    return srv


def serve_on(data_dir: Path, secret: str, work: Path, extra_args=()) -> Server:
    """`nimbus serve` on an existing data folder (conftest's start_server makes a new one)."""
    port = _free_port()
    log_path = work / f"server-{port}.stderr.log"
    cmd = [str(nimbus_bin()), "serve", "--listen", f"127.0.0.1:{port}", "--data", str(data_dir),
           *extra_args]
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=_server_env(secret), cwd=work,
                                start_new_session=True)
    srv = Server(url=f"http://127.0.0.1:{port}", host="127.0.0.1", port=port, data_dir=data_dir,
                 access_key=ACCESS_KEY, secret_key=secret, log_path=log_path, proc=proc)
    _wait_healthy(srv)
    return srv



@pytest.fixture(scope="session")
def server(tmp_path_factory) -> Server:
    srv = start_server(tmp_path_factory.mktemp("nimbus-server"))
    yield srv
    _stop(srv, check=not _ABORTED)


@pytest.fixture
def custom_server(tmp_path_factory):
    """custom_server(*flags) -> a Server of its own with extra `serve` flags, stopped (and
    checked for a clean exit) after the test."""
    started = []

    def start(*flags) -> Server:
        srv = start_server(tmp_path_factory.mktemp("nimbus-custom"), flags)
        started.append(srv)
        return srv

    yield start
    for srv in started:
        _stop(srv, check=True)


def _wait_healthy(srv: Server) -> None:
    deadline = time.monotonic() + 15
    last = None
    while time.monotonic() < deadline:
        if not srv.alive():
            pytest.fail(f"nimbus serve exited with {srv.proc.returncode} during start-up;"
                        f" log:\n{srv.log_tail()}", pytrace=False)
        try:
            r = requests.get(srv.url + "/healthz", timeout=1)
            if r.status_code == 200:
                return
            last = f"HTTP {r.status_code}"
        except requests.RequestException as e:
            last = repr(e)
        time.sleep(0.05)
    pytest.fail(f"GET /healthz did not answer 200 within 15 s (last: {last}); log:\n"
                f"{srv.log_tail()}", pytrace=False)


def _stop(srv: Server, check: bool) -> None:
    problems = []
    children = h.descendants(srv.pid) if srv.alive() else []
    if srv.alive():
        srv.proc.send_signal(signal.SIGTERM)
        try:
            srv.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            problems.append("nimbus serve did not exit within 15 s of SIGTERM (killed)")
            srv.proc.kill()
            srv.proc.wait()
    rc = srv.proc.returncode
    if rc != 0:
        problems.append(f"nimbus serve exited with status {rc} (expected 0)")
    # The server must have ended every process it started (instances, helpers).
    deadline = time.monotonic() + 3
    left = [c for c in children if h.is_alive(*c)]
    while left and time.monotonic() < deadline:
        time.sleep(0.05)
        left = [c for c in children if h.is_alive(*c)]
    for pid, _ in left:  # clean up after a failing server so the host stays usable
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass
    if left:
        problems.append(f"processes started by nimbus still alive after it exited: "
                        f"{[pid for pid, _ in left]}")
    if check and problems:
        pytest.fail("; ".join(problems) + f"\nserver log tail:\n{srv.log_tail()}",
                    pytrace=False)


def make_lambda_client(srv: Server, access_key: Optional[str] = None,
                       secret_key: Optional[str] = None, region: str = h.REGION,
                       pool: int = 10):
    session = boto3.session.Session(
        aws_access_key_id=access_key if access_key is not None else srv.access_key,
        aws_secret_access_key=secret_key if secret_key is not None else srv.secret_key,
        region_name=region)
    config = botocore.config.Config(retries={"max_attempts": 0}, read_timeout=30,
                                    connect_timeout=5, max_pool_connections=pool)
    return session.client("lambda", endpoint_url=srv.url, config=config)


@pytest.fixture(scope="session")
def lam(server):
    return make_lambda_client(server)


@pytest.fixture(scope="session")
def lambda_client_factory(server):
    """make(access_key=None, secret_key=None, region='us-east-1', pool=10) -> boto3 client."""
    return lambda **kw: make_lambda_client(server, **kw)


class ApiSession(requests.Session):
    """requests.Session that prefixes relative URLs with the server's base URL."""

    def __init__(self, base_url: str, authorization: Optional[str]):
        super().__init__()
        self.base_url = base_url
        if authorization:
            self.headers["Authorization"] = authorization

    def request(self, method, url, *args, **kwargs):
        if url.startswith("/"):
            url = self.base_url + url
        kwargs.setdefault("timeout", 30)
        return super().request(method, url, *args, **kwargs)


@pytest.fixture(scope="session")
def http(server) -> ApiSession:
    """requests session authenticated with `Authorization: Bearer AKID:SECRET`."""
    s = ApiSession(server.url, server.bearer)
    yield s
    s.close()


@pytest.fixture
def anon(server) -> ApiSession:
    """requests session without any credentials."""
    s = ApiSession(server.url, None)
    yield s
    s.close()


@pytest.fixture(scope="session")
def zip_of():
    """zip_of('python') -> bytes of functions/python zipped (cached)."""
    cache = {}

    def get(folder: str) -> bytes:
        if folder not in cache:
            cache[folder] = h.function_zip(folder)
        return cache[folder]

    return get


@dataclasses.dataclass
class Fn:
    name: str
    arn: str
    runtime: str
    zip: bytes
    config: dict


@pytest.fixture
def make_function(lam, zip_of) -> Callable[..., Fn]:
    """make_function(runtime='python3.11', handler=None, zip=None, name=None, **CreateFunction
    kwargs) creates a function with a unique name, waits until it is Active, and deletes it
    after the test."""
    created = []

    def make(runtime: str = "python3.11", handler: Optional[str] = None,
             zip: Optional[bytes] = None, name: Optional[str] = None, wait: bool = True,
             **kwargs) -> Fn:
        name = name or h.unique_name("it-" + runtime.split(".")[0].replace("python3", "py"))
        code = zip if zip is not None else zip_of(runtime)
        resp = lam.create_function(FunctionName=name, Runtime=runtime, Role=h.ROLE,
                                   Handler=handler or h.DEFAULT_HANDLERS[runtime],
                                   Code={"ZipFile": code}, **kwargs)
        created.append(name)
        if wait:
            h.wait_ready(lam, name)
        return Fn(name=name, arn=resp["FunctionArn"], runtime=runtime, zip=code, config=resp)

    yield make
    for name in created:
        try:
            lam.delete_function(FunctionName=name)
        except botocore.exceptions.ClientError as e:
            if h.error_code(e) != "ResourceNotFoundException":
                raise
        except botocore.exceptions.BotoCoreError:
            pass  # the server may be gone; the session teardown reports that


@pytest.fixture
def marker_dir(tmp_path_factory) -> Path:
    """A folder the functions can write marker files into."""
    base = os.environ.get("NIMBUS_TEST_MARKER_DIR")
    if base:
        d = Path(base) / h.unique_name("markers")
        d.mkdir(parents=True)
    else:
        d = tmp_path_factory.mktemp("markers")
    d.chmod(0o777)  # instances may run under another uid
    return d


@dataclasses.dataclass
class CliResult:
    args: list
    returncode: int
    stdout: str
    stderr: str

    def __str__(self):
        return (f"$ {' '.join(map(str, self.args))}\n-> exit {self.returncode}\n"
                f"stdout:\n{self.stdout[-3000:]}\nstderr:\n{self.stderr[-3000:]}")


def _run(args, env, timeout, input_text=None, cwd=None) -> CliResult:
    try:
        p = subprocess.run(args, env=env, input=input_text, capture_output=True, text=True,
                           timeout=timeout, cwd=cwd)
    except subprocess.TimeoutExpired as e:
        raise AssertionError(f"command timed out after {timeout} s: {args}\n"
                             f"stdout: {e.stdout!r}\nstderr: {e.stderr!r}") from e
    return CliResult(list(args), p.returncode, p.stdout, p.stderr)


@pytest.fixture(scope="session")
def cli(server, tmp_path_factory):
    """cli('deploy', ...) runs `nimbus --endpoint URL deploy ...` with the credentials in
    NIMBUS_ACCESS_KEY_ID / NIMBUS_SECRET_ACCESS_KEY; returns a CliResult."""
    binary = str(nimbus_bin())
    home = tmp_path_factory.mktemp("cli-home")
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NIMBUS_") and not k.startswith("AWS_")}
    env.update(NIMBUS_ACCESS_KEY_ID=server.access_key,
               NIMBUS_SECRET_ACCESS_KEY=server.secret_key,
               NIMBUS_ENDPOINT=server.url, HOME=str(home))
    # `--endpoint` goes before the subcommand when it is a global option (listed in the
    # top-level help), else after the subcommand's own arguments.
    top_help = _run([binary, "--help"], env, 30)
    endpoint_is_global = "--endpoint" in (top_help.stdout + top_help.stderr)

    def run(*args, timeout: float = 60, input_text: Optional[str] = None, cwd=None) -> CliResult:
        args = [str(a) for a in args]
        if endpoint_is_global:
            full = [binary, "--endpoint", server.url, *args]
        else:
            full = [binary, *args, "--endpoint", server.url]
        return _run(full, env, timeout, input_text, cwd)

    return run


@pytest.fixture(scope="session")
def awscli(server, tmp_path_factory):
    """awscli('lambda', 'list-functions') runs /usr/bin/aws against nimbus; returns a
    CliResult."""
    if not os.access(AWS_CLI, os.X_OK):
        pytest.skip(f"{AWS_CLI} is not installed")
    home = tmp_path_factory.mktemp("aws-home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(AWS_ACCESS_KEY_ID=server.access_key, AWS_SECRET_ACCESS_KEY=server.secret_key,
               AWS_DEFAULT_REGION=h.REGION, AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
               AWS_RETRY_MODE="standard", AWS_EC2_METADATA_DISABLED="true",
               AWS_CONFIG_FILE=str(home / "config"),
               AWS_SHARED_CREDENTIALS_FILE=str(home / "credentials"), HOME=str(home))

    def run(*args, timeout: float = 60, cwd=None) -> CliResult:
        full = [AWS_CLI, *[str(a) for a in args], "--endpoint-url", server.url,
                "--output", "json"]
        return _run(full, env, timeout, cwd=cwd)

    return run


@pytest.fixture(autouse=True)
def _server_still_alive(request):
    """Once the server has died, every later test would only fail with 'connection
    refused': stop the session instead, naming the exit status."""
    if "server" in request.fixturenames:
        srv = request.getfixturevalue("server")
        if not srv.alive():
            global _ABORTED
            _ABORTED = True  # the teardown must not fail again inside session finish
            pytest.exit(f"nimbus serve died during an earlier test (exit status "
                        f"{srv.proc.returncode}); stopping. Server log tail:\n"
                        f"{srv.log_tail(20)}", returncode=1)
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """Attach the tail of the server log to failing tests."""
    outcome = yield
    report = outcome.get_result()
    srv = getattr(item, "funcargs", {}).get("server")  # set when the test used it
    if report.failed and isinstance(srv, Server):
        state = "alive" if srv.alive() else f"exited with {srv.proc.returncode}"
        report.sections.append(("nimbus server log (tail)",
                                f"server {state}\n{srv.log_tail(60)}"))
