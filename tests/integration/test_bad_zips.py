"""Hostile or broken code packages: each is refused with 400 InvalidParameterValueException
and leaves nothing behind (no function, no extracted files outside the data folder)."""
import io
import os
import stat
import time
import zipfile

import botocore.exceptions
import pytest

import nimbus_helpers as h

GOOD_APP = "def main(event, context):\n    return event\n"


def zip_with(entries):
    """entries: list of (arcname, content, mode)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content, mode in entries:
            zf.writestr(h.zip_info(name, mode), content)
    return buf.getvalue()


def corrupt_zip():
    good = h.zip_files({"app.py": GOOD_APP})
    return good[: len(good) // 2]  # truncated: no central directory


def bad_crc_zip():
    good = bytearray(h.zip_files({"app.py": GOOD_APP * 50}))
    # flip a byte inside the compressed data of the first entry (after its local header)
    header_len = 30 + len("app.py")
    good[header_len + 5] ^= 0xFF
    return bytes(good)


def traversal_zip():
    return zip_with([("app.py", GOOD_APP, 0o100644),
                     ("../../../../tmp/nimbus-escape.py", "pwned = 1\n", 0o100644)])


def nested_traversal_zip():
    return zip_with([("app.py", GOOD_APP, 0o100644),
                     ("lib/../../nimbus-escape.py", "pwned = 1\n", 0o100644)])


def absolute_zip():
    return zip_with([("app.py", GOOD_APP, 0o100644),
                     ("/tmp/nimbus-absolute-escape.py", "pwned = 1\n", 0o100644)])


def symlink_zip():
    return zip_with([("app.py", GOOD_APP, 0o100644),
                     ("passwd", "/etc/passwd", stat.S_IFLNK | 0o777)])


def zip_bomb():
    """300 MB of zeros in one entry: about 300 KB compressed."""
    buf = io.BytesIO()
    chunk = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(h.zip_info("app.py", 0o100644), GOOD_APP)
        info = h.zip_info("zeros.bin", 0o100644)
        with zf.open(info, "w", force_zip64=True) as w:
            for _ in range(300):
                w.write(chunk)
    data = buf.getvalue()
    assert len(data) < 2 * 1024 * 1024, len(data)
    return data


BAD_ZIPS = {
    "not-a-zip": lambda: b"this is not a zip at all",
    "truncated": corrupt_zip,
    "bad-crc": bad_crc_zip,
    "dotdot-traversal": traversal_zip,
    "nested-dotdot": nested_traversal_zip,
    "absolute-path": absolute_zip,
    "symlink-to-etc-passwd": symlink_zip,
    "zip-bomb-300MB": zip_bomb,
}


def data_size(path):
    total = 0
    for root, _, files in os.walk(path):
        for f in files:
            try:
                total += os.lstat(os.path.join(root, f)).st_size
            except OSError:
                pass
    return total


def assert_no_escape():
    for p in ("/tmp/nimbus-escape.py", "/tmp/nimbus-absolute-escape.py"):
        assert not os.path.exists(p), f"{p} was written by an extraction"


@pytest.mark.parametrize("kind", list(BAD_ZIPS))
def test_bad_zip_on_create(lam, server, kind):
    code = BAD_ZIPS[kind]()
    name = h.unique_name("zip")
    before = data_size(server.data_dir)
    try:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                                Handler="app.main", Code={"ZipFile": code})
    finally:
        leftover = None
        try:
            leftover = lam.get_function_configuration(FunctionName=name)
            lam.delete_function(FunctionName=name)
        except botocore.exceptions.ClientError:
            pass
    assert h.http_status(info.value) == 400, info.value.response
    assert h.error_code(info.value) == "InvalidParameterValueException", info.value.response
    assert leftover is None, f"a function was created from a {kind} zip"
    assert name not in [f["FunctionName"] for f in lam.list_functions(MaxItems=50)["Functions"]]
    grown = data_size(server.data_dir) - before
    assert grown < 20 * 1024 * 1024, f"data folder grew by {grown} bytes"
    assert_no_escape()
    assert server.alive()


@pytest.mark.parametrize("kind", ["truncated", "dotdot-traversal", "absolute-path",
                                  "symlink-to-etc-passwd", "zip-bomb-300MB"])
def test_bad_zip_on_update_keeps_old_code(lam, make_function, kind):
    fn = make_function("python3.11", handler="app.echo")
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.update_function_code(FunctionName=fn.name, ZipFile=BAD_ZIPS[kind]())
    assert h.http_status(info.value) == 400, info.value.response
    assert h.error_code(info.value) == "InvalidParameterValueException"
    cfg = lam.get_function_configuration(FunctionName=fn.name)
    assert cfg["CodeSha256"] == h.code_sha256(fn.zip)
    resp = lam.invoke(FunctionName=fn.name, Payload=b'{"still": "fine"}')
    assert "FunctionError" not in resp
    assert h.payload_json(resp) == {"still": "fine"}
    assert_no_escape()


def test_provided_without_bootstrap_fails_cleanly(lam, make_function):
    """A provided zip without an executable bootstrap cannot start. Refusing it at create
    (400) is fine; if it is accepted, the invoke must report an error rather than hang."""
    try:
        fn = make_function("provided", handler="x",
                           zip=h.zip_files({"README.txt": "no bootstrap here"}))
    except botocore.exceptions.ClientError as e:
        assert h.error_code(e) == "InvalidParameterValueException", e.response
        return
    t0 = time.monotonic()
    try:
        resp = lam.invoke(FunctionName=fn.name, Payload=b"{}")
    except botocore.exceptions.ClientError as e:  # refused before running: also clean
        assert 400 <= h.http_status(e) < 600 and h.error_code(e), e.response
        return
    finally:
        assert time.monotonic() - t0 < 10, "the invoke hung"
    # Lambda: 200 + Unhandled + Runtime.InvalidEntrypoint
    assert resp.get("FunctionError") == "Unhandled"
    body = h.payload_json(resp)
    assert body.get("errorType", "").startswith("Runtime."), body
