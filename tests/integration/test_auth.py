"""Authentication: SigV4 as the AWS clients send it, bearer keys, and every way to fail."""
import base64
import datetime
import json
import types
import urllib.parse
from unittest import mock

import botocore.auth
import botocore.credentials
import botocore.exceptions
import pytest
import requests
from botocore.awsrequest import AWSRequest

import nimbus_helpers as h

NO_AUTH_CODES = {"MissingAuthenticationTokenException", "UnrecognizedClientException"}
WRONG_SECRET = "definitely-not-the-secret-0123456789"


def error_type(resp: requests.Response) -> str:
    return resp.headers.get("x-amzn-ErrorType", "").split(":")[0]


def assert_403(resp: requests.Response, codes):
    codes = {codes} if isinstance(codes, str) else set(codes)
    assert resp.status_code == 403, (resp.status_code, resp.headers, resp.text[:300])
    assert error_type(resp) in codes, (resp.headers, resp.text[:300])
    body = resp.json()
    assert body.get("message") or body.get("Message"), body


def sign(server, method, path, body=b"", headers=None, access_key=None, secret_key=None,
         region="us-east-1", skew=None):
    """Signs a request with botocore's SigV4 signer (as boto3 does); returns the headers."""
    req = AWSRequest(method=method, url=server.url + path, data=body, headers=headers or {})
    creds = botocore.credentials.Credentials(access_key or server.access_key,
                                             secret_key or server.secret_key)
    signer = botocore.auth.SigV4Auth(creds, "lambda", region)
    if skew is None:
        signer.add_auth(req)
    else:
        real = datetime.datetime

        class Skewed(real):
            @classmethod
            def utcnow(cls):
                return real.utcnow() + skew

        with mock.patch.object(botocore.auth, "datetime",
                               types.SimpleNamespace(datetime=Skewed)):
            signer.add_auth(req)
    return dict(req.headers.items())


def send(server, method, path, body=b"", headers=None):
    return requests.request(method, server.url + path, data=body, headers=headers or {},
                            timeout=30)


# ------------------------------------------------------------------------ what works

def test_sigv4_through_boto3(lam):
    resp = lam.list_functions()
    assert resp["ResponseMetadata"]["HTTPStatusCode"] == 200


@pytest.mark.parametrize("region", ["eu-west-3", "ap-southeast-2"])
def test_sigv4_any_region(lambda_client_factory, region):
    client = lambda_client_factory(region=region)
    assert client.list_functions()["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_bearer(http, anon, server):
    assert http.get("/2015-03-31/functions").status_code == 200
    r = anon.get("/2015-03-31/functions", headers={"Authorization": server.bearer})
    assert r.status_code == 200, r.text


def test_healthz_needs_no_auth(anon):
    assert anon.get("/healthz").status_code == 200


def test_signed_request_sent_by_hand(server, make_function):
    """Our own signing helper is accepted untampered (the control for the tamper tests),
    including percent-encoded ARNs and qualifiers in the path."""
    fn = make_function("python3.11", handler="app.echo")
    for ref in (fn.name, fn.arn, f"{fn.name}:$LATEST"):
        path = f"/2015-03-31/functions/{urllib.parse.quote(ref, safe='')}/invocations"
        body = json.dumps({"ref": ref}).encode()
        headers = sign(server, "POST", path, body)
        r = send(server, "POST", path, body, headers)
        assert r.status_code == 200, (ref, r.status_code, r.text)
        assert r.json() == {"ref": ref}
    path = f"/2015-03-31/functions/{fn.name}/invocations?Qualifier=%24LATEST"
    headers = sign(server, "POST", path, b"{}")
    r = send(server, "POST", path, b"{}", headers)
    assert r.status_code == 200, r.text


# ------------------------------------------------------------------------ what fails

def test_no_auth(anon):
    assert_403(anon.get("/2015-03-31/functions"), NO_AUTH_CODES)
    assert_403(anon.get("/2015-03-31/functions/"), NO_AUTH_CODES)


def test_auth_happens_before_routing(anon):
    missing = h.unique_name("missing")
    assert_403(anon.get(f"/2015-03-31/functions/{missing}"), NO_AUTH_CODES)
    assert_403(anon.get(f"/2015-03-31/functions/{missing}/configuration"), NO_AUTH_CODES)
    assert_403(anon.post(f"/2015-03-31/functions/{missing}/invocations", data=b"{}"),
               NO_AUTH_CODES)
    assert_403(anon.delete(f"/2015-03-31/functions/{missing}"), NO_AUTH_CODES)
    assert_403(anon.post("/2015-03-31/functions", data=b"not even json"), NO_AUTH_CODES)


def test_unsigned_request_cannot_create(anon, lam, zip_of):
    name = h.unique_name("unsigned")
    body = {"FunctionName": name, "Runtime": "python3.11", "Role": h.ROLE,
            "Handler": "app.main", "Code": {"ZipFile": base64.b64encode(zip_of("python")).decode()}}
    assert_403(anon.post("/2015-03-31/functions", json=body), NO_AUTH_CODES)
    with pytest.raises(botocore.exceptions.ClientError) as info:
        lam.get_function(FunctionName=name)
    assert h.error_code(info.value) == "ResourceNotFoundException"


def test_wrong_secret_boto3(lambda_client_factory, make_function):
    fn = make_function("python3.11", handler="app.echo", wait=False)
    bad = lambda_client_factory(secret_key=WRONG_SECRET)
    calls = [
        lambda: bad.list_functions(),
        lambda: bad.get_function(FunctionName=fn.name),
        lambda: bad.get_function(FunctionName=h.unique_name("missing")),  # 403, not 404
        lambda: bad.invoke(FunctionName=fn.name, Payload=b"{}"),
        lambda: bad.delete_function(FunctionName=fn.name),
    ]
    for call in calls:
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call()
        assert h.http_status(info.value) == 403, info.value.response
        assert h.error_code(info.value) == "InvalidSignatureException", info.value.response


def test_unknown_access_key_boto3(lambda_client_factory):
    bad = lambda_client_factory(access_key="AKIDUNKNOWN0000000", secret_key=WRONG_SECRET)
    for call in (lambda: bad.list_functions(),
                 lambda: bad.invoke(FunctionName=h.unique_name("missing"), Payload=b"{}")):
        with pytest.raises(botocore.exceptions.ClientError) as info:
            call()
        assert h.http_status(info.value) == 403
        assert h.error_code(info.value) == "UnrecognizedClientException", info.value.response


def test_bearer_failures(anon, server):
    cases = [
        (f"Bearer {server.access_key}:{WRONG_SECRET}",
         {"InvalidSignatureException", "UnrecognizedClientException"}),
        (f"Bearer AKIDUNKNOWN0000000:{server.secret_key}", {"UnrecognizedClientException"}),
        (f"Bearer {server.access_key}", None),
        ("Bearer ", None),
        (f"Bearer :{server.secret_key}", None),
        (f"Basic {server.access_key}:{server.secret_key}", None),
        ("AWS4-HMAC-SHA256 garbage", None),
        ("AWS4-HMAC-SHA256 Credential=AKIDNIMBUSTEST/20240101/us-east-1/lambda/aws4_request,"
         " SignedHeaders=host, Signature=" + "0" * 64, None),
    ]
    for auth, codes in cases:
        r = anon.get("/2015-03-31/functions", headers={"Authorization": auth})
        assert r.status_code == 403, (auth, r.status_code, r.text[:200])
        assert error_type(r), (auth, r.headers)
        if codes:
            assert error_type(r) in codes, (auth, r.headers)


def test_tampered_body(server, make_function):
    fn = make_function("python3.11", handler="app.echo")
    path = f"/2015-03-31/functions/{fn.name}/invocations"
    body = b'{"amount": 1}'
    headers = sign(server, "POST", path, body)
    tampered = send(server, "POST", path, b'{"amount": 1000}', headers)
    assert_403(tampered, "InvalidSignatureException")
    # same length, one byte changed
    tampered = send(server, "POST", path, b'{"amount": 2}', headers)
    assert_403(tampered, "InvalidSignatureException")
    untouched = send(server, "POST", path, body, headers)
    assert untouched.status_code == 200 and untouched.json() == {"amount": 1}


def test_tampered_signed_header_path_and_query(server, make_function):
    fn = make_function("python3.11", handler="app.echo")
    path = f"/2015-03-31/functions/{fn.name}/invocations"
    headers = sign(server, "POST", path, b"{}", {"X-Amz-Invocation-Type": "RequestResponse"})
    changed = dict(headers, **{"X-Amz-Invocation-Type": "Event"})
    assert_403(send(server, "POST", path, b"{}", changed), "InvalidSignatureException")
    assert_403(send(server, "POST", path + "?Qualifier=%24LATEST", b"{}", headers),
               "InvalidSignatureException")
    other = h.unique_name("other")
    assert_403(send(server, "POST", f"/2015-03-31/functions/{other}/invocations", b"{}",
                    headers), "InvalidSignatureException")
    signed_get = sign(server, "GET", "/2015-03-31/functions")
    assert_403(send(server, "DELETE", f"/2015-03-31/functions/{fn.name}", b"", signed_get),
               "InvalidSignatureException")


@pytest.mark.parametrize("minutes", [-20, 20])
def test_clock_skew_rejected(server, minutes):
    path = "/2015-03-31/functions"
    headers = sign(server, "GET", path, skew=datetime.timedelta(minutes=minutes))
    assert_403(send(server, "GET", path, b"", headers), "InvalidSignatureException")
    # a small skew is fine
    headers = sign(server, "GET", path, skew=datetime.timedelta(minutes=minutes / 10))
    assert send(server, "GET", path, b"", headers).status_code == 200


# ------------------------------------------------------------------------ the log

def test_secret_never_logged(server, http, anon, lam):
    # traffic that carries the secret in every form it can arrive in
    http.get("/2015-03-31/functions")
    http.get(f"/2015-03-31/functions/{h.unique_name('missing')}")
    lam.list_functions()
    anon.get("/2015-03-31/functions", headers={"Authorization": f"Bearer {server.access_key}:"
                                                                f"{WRONG_SECRET}"})
    text = server.log_text()
    assert text, "the server wrote no log at all"
    assert server.secret_key not in text, "the root secret appears in the server log"
    assert WRONG_SECRET not in text, "a presented secret appears in the server log"
    stdout = (server.log_path.parent / "server.stdout.log")
    if stdout.exists():
        assert server.secret_key not in stdout.read_text(errors="replace")


def test_server_log_is_json_lines(server):
    lines = [l for l in server.log_text().splitlines() if l.strip()]
    assert lines
    for line in lines:
        try:
            record = json.loads(line)
        except ValueError:
            raise AssertionError(f"server log line is not JSON: {line[:300]!r}")
        assert isinstance(record, dict), line
