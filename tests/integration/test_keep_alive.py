"""Scale to zero: with a host keep-alive of 2 s an idle instance is gone ~3 s after its
last invoke, and the next invoke is a cold start (Init Duration in its REPORT line)."""
import json
import time

import requests

import nimbus_helpers as h
from conftest import make_lambda_client


def test_idle_instance_is_reaped_after_keep_alive(custom_server, zip_of):
    srv = custom_server("--keep-alive-seconds", "2")
    lam = make_lambda_client(srv)
    name = h.unique_name("keep")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                        Handler=h.DEFAULT_HANDLERS["python3.11"],
                        Code={"ZipFile": zip_of("python3.11")})
    h.wait_ready(lam, name)

    def call():
        resp = lam.invoke(FunctionName=name, LogType="Tail",
                          Payload=json.dumps({"action": "info"}).encode())
        return json.loads(h.read_payload(resp))["instance"], h.decode_log_result(resp)

    first, log = call()
    assert "Init Duration" in log
    again, log = call()
    assert again == first and "Init Duration" not in log, "warm within the keep-alive"
    time.sleep(3.5)
    reaped = [line for line in srv.log_text().splitlines()
              if "reaping idle instance" in line and name in line]
    assert reaped, "the idle instance should have been reaped"
    later, log = call()
    assert later != first
    assert "Init Duration" in log, "the next invoke after the keep-alive is cold"


def test_per_function_keep_alive_overrides_the_host_default(custom_server, zip_of):
    """KeepAliveSeconds in a function's settings (PATCH /v1/functions/{f}/settings) ends
    that function's idle instances early while others keep the host's 30 s."""
    srv = custom_server("--keep-alive-seconds", "30")
    lam = make_lambda_client(srv)
    api = requests.Session()
    api.headers["Authorization"] = srv.bearer
    short, default = h.unique_name("short"), h.unique_name("default")
    for name in (short, default):
        lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                            Handler=h.DEFAULT_HANDLERS["python3.11"],
                            Code={"ZipFile": zip_of("python3.11")})
        h.wait_ready(lam, name)
    r = api.patch(f"{srv.url}/v1/functions/{short}/settings", json={"KeepAliveSeconds": 2})
    assert r.status_code == 200, r.text
    assert r.json()["KeepAliveSeconds"] == 2

    def call(name):
        resp = lam.invoke(FunctionName=name, LogType="Tail",
                          Payload=json.dumps({"action": "info"}).encode())
        return json.loads(h.read_payload(resp))["instance"], h.decode_log_result(resp)

    first_short, _ = call(short)
    first_default, _ = call(default)
    time.sleep(3.5)
    later_short, log_short = call(short)
    later_default, log_default = call(default)
    assert later_short != first_short and "Init Duration" in log_short, "reaped after 2 s"
    assert later_default == first_default and "Init Duration" not in log_default, \
        "the host's 30 s keep-alive still holds for the other function"
