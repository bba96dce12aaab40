"""Lambda control-plane API through boto3: create, read, list, update, delete, validation."""
import base64
import io
import json
import re
import zipfile

import botocore.exceptions
import pytest

import nimbus_helpers as h

RUNTIMES = ["python3.11", "nodejs20.x", "provided"]


def expect_error(call, code: str, status: int, **kwargs):
    with pytest.raises(botocore.exceptions.ClientError) as info:
        call(**kwargs)
    assert h.error_code(info.value) == code, info.value.response
    assert h.http_status(info.value) == status, info.value.response
    return info.value


def assert_configuration(cfg: dict, name: str, runtime: str, handler: str, code: bytes,
                         timeout: int = 3, memory: int = 128):
    assert cfg["FunctionName"] == name
    assert re.fullmatch(h.ARN_RE + re.escape(name), cfg["FunctionArn"]), cfg["FunctionArn"]
    assert cfg["Runtime"] == runtime
    assert cfg["Role"] == h.ROLE
    assert cfg["Handler"] == handler
    assert cfg["CodeSize"] == len(code)
    assert cfg["CodeSha256"] == h.code_sha256(code)
    assert cfg["Timeout"] == timeout
    assert cfg["MemorySize"] == memory
    assert cfg["Version"] == "$LATEST"
    assert re.fullmatch(h.LAST_MODIFIED_RE, cfg["LastModified"]), cfg["LastModified"]
    if "PackageType" in cfg:
        assert cfg["PackageType"] == "Zip"


@pytest.mark.parametrize("runtime", RUNTIMES)
def test_create_get_update_delete(lam, zip_of, runtime):
    name = h.unique_name("crud")
    code = zip_of(runtime)
    handler = h.DEFAULT_HANDLERS[runtime]
    created = lam.create_function(FunctionName=name, Runtime=runtime, Role=h.ROLE,
                                  Handler=handler, Code={"ZipFile": code},
                                  Description="integration test")
    try:
        assert created["ResponseMetadata"]["HTTPStatusCode"] == 201
        assert_configuration(created, name, runtime, handler, code)
        assert created.get("State") in ("Pending", "Active"), created.get("State")
        assert created["Description"] == "integration test"
        cfg = h.wait_ready(lam, name)
        assert cfg["State"] == "Active"
        assert_configuration(cfg, name, runtime, handler, code)

        got = lam.get_function(FunctionName=name)
        assert got["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert_configuration(got["Configuration"], name, runtime, handler, code)
        assert "Code" in got, got

        # UpdateFunctionConfiguration
        upd = lam.update_function_configuration(
            FunctionName=name, Timeout=7, MemorySize=256, Description="changed",
            Environment={"Variables": {"GREETING": "hi", "EMPTY": ""}})
        assert upd["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert upd["Timeout"] == 7 and upd["MemorySize"] == 256
        cfg = h.wait_ready(lam, name)
        assert cfg["Timeout"] == 7
        assert cfg["MemorySize"] == 256
        assert cfg["Description"] == "changed"
        assert cfg["Environment"]["Variables"] == {"GREETING": "hi", "EMPTY": ""}
        assert cfg["CodeSha256"] == h.code_sha256(code)  # code untouched

        # UpdateFunctionCode
        new_code = _with_extra_file(runtime, name)
        upd = lam.update_function_code(FunctionName=name, ZipFile=new_code)
        assert upd["ResponseMetadata"]["HTTPStatusCode"] == 200
        assert upd["CodeSha256"] == h.code_sha256(new_code)
        assert upd["CodeSize"] == len(new_code)
        cfg = h.wait_ready(lam, name)
        assert cfg["CodeSha256"] == h.code_sha256(new_code)
        assert cfg["Timeout"] == 7  # configuration untouched by a code update
        assert cfg["Environment"]["Variables"]["GREETING"] == "hi"

        # Invoke still works after both updates.
        r = lam.invoke(FunctionName=name, Payload=json.dumps({"ping": runtime}).encode())
        assert r["StatusCode"] == 200
        assert "FunctionError" not in r, h.read_payload(r)
        assert h.payload_json(r) == {"ping": runtime}
    finally:
        deleted = lam.delete_function(FunctionName=name)
    assert deleted["ResponseMetadata"]["HTTPStatusCode"] in (200, 204)
    expect_error(lam.get_function, "ResourceNotFoundException", 404, FunctionName=name)
    expect_error(lam.get_function_configuration, "ResourceNotFoundException", 404,
                 FunctionName=name)
    expect_error(lam.invoke, "ResourceNotFoundException", 404, FunctionName=name,
                 Payload=b"{}")
    expect_error(lam.delete_function, "ResourceNotFoundException", 404, FunctionName=name)
    names = [f["FunctionName"] for f in _list_all(lam)]
    assert name not in names


def _with_extra_file(runtime: str, tag: str) -> bytes:
    """The runtime's test function plus one extra file, so the zip (and its hash) differ."""
    base = h.function_zip(runtime)
    buf = io.BytesIO(base)
    out = io.BytesIO()
    with zipfile.ZipFile(buf) as src, zipfile.ZipFile(out, "w") as dst:
        for info in src.infolist():
            dst.writestr(info, src.read(info))
        dst.writestr(h.zip_info("VERSION.txt", 0o100644), "v2 " + tag)
    return out.getvalue()


def _list_all(lam, **kwargs):
    out, marker = [], None
    for _ in range(1000):
        args = dict(kwargs)
        if marker:
            args["Marker"] = marker
        page = lam.list_functions(**args)
        out.extend(page["Functions"])
        marker = page.get("NextMarker")
        if not marker:
            return out
    raise AssertionError("ListFunctions pagination does not end")


def test_create_defaults_and_settings(make_function):
    fn = make_function("python3.11", MemorySize=512, Timeout=10,
                       Environment={"Variables": {"A": "1"}})
    assert fn.config["MemorySize"] == 512
    assert fn.config["Timeout"] == 10
    assert fn.config["Environment"]["Variables"] == {"A": "1"}
    plain = make_function("python3.11")
    assert plain.config["MemorySize"] == 128
    assert plain.config["Timeout"] == 3


def test_list_functions_pagination(lam, make_function, zip_of):
    prefix = h.unique_name("page")
    names = {make_function("python3.11", name=f"{prefix}-{i}", wait=False).name
             for i in range(7)}
    pages, seen, marker = 0, [], None
    while True:
        args = {"MaxItems": 3}
        if marker:
            args["Marker"] = marker
        page = lam.list_functions(**args)
        pages += 1
        assert len(page["Functions"]) <= 3, page["Functions"]
        seen.extend(f["FunctionName"] for f in page["Functions"])
        marker = page.get("NextMarker")
        if not marker:
            break
        assert pages < 200, "pagination does not end"
    assert len(seen) == len(set(seen)), f"duplicates across pages: {seen}"
    assert names <= set(seen), names - set(seen)
    assert pages >= 3  # 7 functions at 3 per page
    listed = {f["FunctionName"]: f for f in _list_all(lam)}
    for name in names:
        assert listed[name]["Runtime"] == "python3.11"
        assert listed[name]["CodeSha256"] == h.code_sha256(zip_of("python3.11"))

    # The paginator boto3 offers walks the same markers.
    via_paginator = [f["FunctionName"]
                     for p in lam.get_paginator("list_functions").paginate(
                         PaginationConfig={"PageSize": 3})
                     for f in p["Functions"]]
    assert names <= set(via_paginator)


def test_list_functions_trailing_slash(http, make_function):
    fn = make_function("python3.11", wait=False)
    for path in ("/2015-03-31/functions", "/2015-03-31/functions/"):
        r = http.get(path)
        assert r.status_code == 200, (path, r.status_code, r.text[:500])
        body = r.json()
        assert isinstance(body["Functions"], list)
        # pages may be limited; follow NextMarker
        names = [f["FunctionName"] for f in body["Functions"]]
        marker = body.get("NextMarker")
        while marker:
            body = http.get(path, params={"Marker": marker}).json()
            names += [f["FunctionName"] for f in body["Functions"]]
            marker = body.get("NextMarker")
        assert fn.name in names, path


@pytest.mark.parametrize("kwargs,what", [
    ({"Runtime": "cobol85"}, "unknown runtime"),
    ({"Runtime": "python2.7"}, "retired runtime"),
    ({"Timeout": 901}, "Timeout > 900"),
    ({"MemorySize": 20000}, "MemorySize > 10240"),
    ({"Code": {"ZipFile": b"this is not a zip file"}}, "corrupt zip"),
])
def test_create_validation_errors(lam, zip_of, kwargs, what):
    name = h.unique_name("bad")
    args = dict(FunctionName=name, Runtime="python3.11", Role=h.ROLE, Handler="app.main",
                Code={"ZipFile": zip_of("python")})
    args.update(kwargs)
    try:
        exc = expect_error(lam.create_function, "InvalidParameterValueException", 400, **args)
    finally:
        try:
            lam.delete_function(FunctionName=name)
        except botocore.exceptions.ClientError:
            pass
    headers = exc.response["ResponseMetadata"]["HTTPHeaders"]
    assert headers.get("x-amzn-errortype", "").startswith("InvalidParameterValueException")
    assert exc.response["Error"].get("Message"), f"{what}: error without a message"
    expect_error(lam.get_function, "ResourceNotFoundException", 404, FunctionName=name)


@pytest.mark.parametrize("bad_name", ["has space", "semi;colon", "x" * 65, "dots.not.allowed"])
def test_create_rejects_bad_names(http, zip_of, bad_name):
    body = {"FunctionName": bad_name, "Runtime": "python3.11", "Role": h.ROLE,
            "Handler": "app.main", "Code": {"ZipFile": base64.b64encode(zip_of("python")).decode()}}
    r = http.post("/2015-03-31/functions", json=body)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert r.headers.get("x-amzn-ErrorType"), r.headers


@pytest.mark.parametrize("kwargs", [{"Timeout": 901}, {"MemorySize": 20000},
                                    {"Runtime": "cobol85"}])
def test_update_configuration_validation(lam, make_function, kwargs):
    fn = make_function("python3.11")
    expect_error(lam.update_function_configuration, "InvalidParameterValueException", 400,
                 FunctionName=fn.name, **kwargs)
    cfg = lam.get_function_configuration(FunctionName=fn.name)
    assert cfg["Timeout"] == 3 and cfg["MemorySize"] == 128 and cfg["Runtime"] == "python3.11"


def test_update_code_with_bad_zip_keeps_old_code(lam, make_function):
    fn = make_function("python3.11")
    expect_error(lam.update_function_code, "InvalidParameterValueException", 400,
                 FunctionName=fn.name, ZipFile=b"PK\x03\x04 truncated")
    cfg = lam.get_function_configuration(FunctionName=fn.name)
    assert cfg["CodeSha256"] == h.code_sha256(fn.zip)
    r = lam.invoke(FunctionName=fn.name, Payload=b'{"still": "works"}')
    assert h.payload_json(r) == {"still": "works"}


def test_duplicate_create_conflicts(lam, make_function, zip_of):
    fn = make_function("python3.11")
    exc = expect_error(lam.create_function, "ResourceConflictException", 409,
                       FunctionName=fn.name, Runtime="nodejs20.x", Role=h.ROLE,
                       Handler="index.main", Code={"ZipFile": zip_of("node")})
    assert exc.response["Error"].get("Message")
    cfg = lam.get_function_configuration(FunctionName=fn.name)
    assert cfg["Runtime"] == "python3.11"  # the original is untouched


def test_not_found_everywhere(lam, server):
    name = h.unique_name("missing")
    expect_error(lam.get_function, "ResourceNotFoundException", 404, FunctionName=name)
    expect_error(lam.get_function_configuration, "ResourceNotFoundException", 404,
                 FunctionName=name)
    expect_error(lam.update_function_configuration, "ResourceNotFoundException", 404,
                 FunctionName=name, Timeout=5)
    expect_error(lam.update_function_code, "ResourceNotFoundException", 404,
                 FunctionName=name, ZipFile=h.function_zip("python"))
    expect_error(lam.delete_function, "ResourceNotFoundException", 404, FunctionName=name)
    expect_error(lam.invoke, "ResourceNotFoundException", 404, FunctionName=name,
                 Payload=b"{}")


def test_error_shape_on_the_wire(http):
    name = h.unique_name("missing")
    r = http.get(f"/2015-03-31/functions/{name}")
    assert r.status_code == 404
    assert r.headers.get("x-amzn-ErrorType", "").split(":")[0] == "ResourceNotFoundException"
    assert r.headers.get("x-amzn-RequestId"), r.headers
    assert r.headers.get("Content-Type", "").startswith("application/json")
    body = r.json()
    assert body.get("Message") or body.get("message"), body


def test_get_by_arn_and_qualified_name(lam, make_function):
    fn = make_function("python3.11")
    for ref in (fn.arn, f"{fn.name}:$LATEST", f"{fn.arn}:$LATEST",
                fn.arn.split(":", 4)[4]):  # partial ARN <account>:function:<name>
        cfg = lam.get_function_configuration(FunctionName=ref)
        assert cfg["FunctionName"] == fn.name, ref
    got = lam.get_function(FunctionName=fn.name, Qualifier="$LATEST")
    assert got["Configuration"]["FunctionName"] == fn.name
