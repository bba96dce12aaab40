"""Plain helpers shared by the nimbus integration tests (no fixtures here; see conftest.py)."""
from __future__ import annotations

import base64
import hashlib
import io
import json
import os
import stat
import time
import uuid
import zipfile
from pathlib import Path
from typing import Callable, Mapping, TypeVar, Union

import botocore.exceptions

TESTS_DIR = Path(__file__).resolve().parent
REPO_ROOT = TESTS_DIR.parents[1]
FUNCTIONS_DIR = TESTS_DIR / "functions"

REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/nimbus-integration-test"
ARN_RE = r"arn:aws:lambda:us-east-1:\d{12}:function:"
LAST_MODIFIED_RE = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{3})?\+0000"

# Default Handler per runtime for the source folders under functions/.
DEFAULT_HANDLERS = {"python3.11": "app.main", "nodejs20.x": "index.main", "provided": "echo",
                    "provided.al2023": "echo"}
# Source folder per runtime.
RUNTIME_SOURCES = {"python3.11": "python", "nodejs20.x": "node", "provided": "provided",
                   "provided.al2023": "provided"}

T = TypeVar("T")


def unique_name(prefix: str = "it") -> str:
    """A function name no other test (or earlier run) uses."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def zip_info(arcname: str, mode: int) -> zipfile.ZipInfo:
    info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
    info.create_system = 3  # Unix, so that external_attr carries the st_mode
    info.external_attr = (mode & 0xFFFF) << 16
    info.compress_type = zipfile.ZIP_DEFLATED
    return info


def zip_dir(folder: Union[str, Path]) -> bytes:
    """Zips a source folder in memory, keeping Unix modes (the exec bit of `bootstrap`)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"function source folder {folder} does not exist")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for path in sorted(folder.rglob("*")):
            rel = path.relative_to(folder).as_posix()
            if "__pycache__" in rel.split("/") or path.suffix == ".pyc" or path.is_dir():
                continue
            mode = stat.S_IMODE(path.stat().st_mode) | stat.S_IFREG
            if path.name == "bootstrap":  # git checkouts with core.fileMode=false
                mode |= 0o755
            zf.writestr(zip_info(rel, mode), path.read_bytes())
    return buf.getvalue()


def zip_files(files: Mapping[str, Union[str, bytes, tuple]]) -> bytes:
    """Builds a zip from {arcname: content} or {arcname: (content, mode)}."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, value in files.items():
            mode = 0o644
            if isinstance(value, tuple):
                value, mode = value
            if isinstance(value, str):
                value = value.encode()
            if not stat.S_IFMT(mode):
                mode |= stat.S_IFREG
            zf.writestr(zip_info(name, mode), value)
    return buf.getvalue()


def function_zip(runtime_or_folder: str) -> bytes:
    """Zip of functions/<folder> ; accepts a runtime name too (python3.11 -> python)."""
    return zip_dir(FUNCTIONS_DIR / RUNTIME_SOURCES.get(runtime_or_folder, runtime_or_folder))


def code_sha256(data: bytes) -> str:
    """Lambda's CodeSha256: base64 of the SHA-256 digest of the zip bytes."""
    return base64.b64encode(hashlib.sha256(data).digest()).decode()


def wait_until(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.05) -> T:
    """Polls `predicate` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    last_exc = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except AssertionError as e:  # allow predicates written with asserts
            last_exc = e
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}"
                                 + (f" (last: {last_exc})" if last_exc else ""))
        time.sleep(interval)
        interval = min(interval * 1.5, 0.5)


def error_code(exc: botocore.exceptions.ClientError) -> str:
    return exc.response.get("Error", {}).get("Code", "")


def http_status(exc: botocore.exceptions.ClientError) -> int:
    return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0)


def read_payload(resp) -> bytes:
    """Reads the streaming Payload of a boto3 invoke response."""
    return resp["Payload"].read()


def payload_json(resp):
    raw = read_payload(resp)
    try:
        return json.loads(raw)
    except ValueError as e:
        raise AssertionError(f"invoke payload is not JSON: {raw[:500]!r}") from e


def request_id(resp) -> str:
    """x-amzn-RequestId of a boto3 response."""
    headers = resp["ResponseMetadata"].get("HTTPHeaders", {})
    return headers.get("x-amzn-requestid") or resp["ResponseMetadata"].get("RequestId", "")


def decode_log_result(resp) -> str:
    assert "LogResult" in resp, f"no X-Amz-Log-Result header: {resp['ResponseMetadata']}"
    raw = base64.b64decode(resp["LogResult"])
    assert len(raw) <= 4096, f"X-Amz-Log-Result decodes to {len(raw)} bytes (> 4096)"
    return raw.decode("utf-8", errors="replace")


def wait_ready(lam, name: str, timeout: float = 30.0) -> dict:
    """Polls GetFunctionConfiguration until State Active and the last update finished."""

    def ready():
        cfg = lam.get_function_configuration(FunctionName=name)
        state = cfg.get("State", "Active")
        update = cfg.get("LastUpdateStatus", "Successful")
        assert state != "Failed" and update != "Failed", f"function {name} failed: {cfg}"
        return cfg if state == "Active" and update == "Successful" else None

    return wait_until(ready, timeout, f"function {name} to become Active/Successful")


def proc_stat(pid: int):
    """(state, ppid, starttime) from /proc/<pid>/stat, or None when the pid is gone."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            data = f.read().decode(errors="replace")
    except OSError:
        return None
    rest = data[data.rindex(")") + 2:].split()
    return rest[0], int(rest[1]), int(rest[19])


def descendants(root: int) -> list[tuple[int, int]]:
    """All descendants of `root` as (pid, starttime), found through /proc/*/stat ppid."""
    by_parent: dict[int, list[tuple[int, int]]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        st = proc_stat(int(entry))
        if st is not None:
            by_parent.setdefault(st[1], []).append((int(entry), st[2]))
    found, todo = [], [root]
    while todo:
        for child in by_parent.get(todo.pop(), []):
            found.append(child)
            todo.append(child[0])
    return found


def is_alive(pid: int, starttime: int) -> bool:
    st = proc_stat(pid)
    return st is not None and st[2] == starttime and st[0] not in ("Z", "X")


def create_python(lam, name: str, source: str, **kwargs) -> str:
    """A python3.11 function whose app.py is `source` (handler app.handler), ready to
    invoke; returns its ARN."""
    resp = lam.create_function(FunctionName=name, Runtime="python3.11", Role=ROLE,
                               Handler="app.handler",
                               Code={"ZipFile": zip_files({"app.py": source})}, **kwargs)
    wait_ready(lam, name)
    return resp["FunctionArn"]


def log_lines(api, name: str, prefix: str) -> list[str]:
    """The function's recent log messages (GET /v1/functions/{name}/logs) that start
    with `prefix`."""
    r = api.get(f"/v1/functions/{name}/logs", params={"limit": "10000"})
    assert r.status_code == 200, r.text
    return [e["message"] for e in r.json()["events"] if e["message"].startswith(prefix)]
