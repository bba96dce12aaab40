"""Provisioned concurrency, as Lambda has it: Put/Get/Delete/ListProvisionedConcurrencyConfigs;
instances started ahead (IN_PROGRESS -> READY), never reaped by keep-alive, invocations on
them report no Init Duration; replaced when they die or the function changes; validation
errors in Lambda's shape. Deviation: Qualifier $LATEST is accepted (no versions yet)."""
import concurrent.futures
import dataclasses
import json
import subprocess
import time

import boto3
import botocore.config
import botocore.exceptions
import pytest

import conftest
import nimbus_helpers as h
from conftest import make_lambda_client


def create(lam, zip_bytes, name, **kwargs):
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                        Handler=h.DEFAULT_HANDLERS["python3.11"], Code={"ZipFile": zip_bytes},
                        MemorySize=128, Timeout=10, **kwargs)
    h.wait_ready(lam, name)


def invoke(lam, name, event):
    """(payload, tail log) of a sync invoke with LogType Tail."""
    resp = lam.invoke(FunctionName=name, LogType="Tail", Payload=json.dumps(event).encode())
    assert "FunctionError" not in resp, h.read_payload(resp)
    return json.loads(h.read_payload(resp)), h.decode_log_result(resp)


def wait_status(lam, name, want, timeout=30):
    def check():
        cfg = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST")
        return cfg if cfg["Status"] == want else None
    return h.wait_until(check, timeout, f"provisioned concurrency of {name} to be {want}")


def parallel(lam, name, event, n):
    with concurrent.futures.ThreadPoolExecutor(n) as pool:
        return list(pool.map(lambda _: invoke(lam, name, event), range(n)))


def test_provisioned_instances_start_ahead_and_survive_keep_alive(custom_server, zip_of):
    srv = custom_server("--keep-alive-seconds", "2")
    lam = make_lambda_client(srv, pool=8)
    code = zip_of("python3.11")
    prov, plain = h.unique_name("prov"), h.unique_name("plain")
    create(lam, code, prov)
    create(lam, code, plain)

    put = lam.put_provisioned_concurrency_config(FunctionName=prov, Qualifier="$LATEST",
                                                 ProvisionedConcurrentExecutions=3)
    assert put["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert put["RequestedProvisionedConcurrentExecutions"] == 3
    assert put["Status"] in ("IN_PROGRESS", "READY")
    ready = wait_status(lam, prov, "READY")
    assert ready["AllocatedProvisionedConcurrentExecutions"] == 3
    assert ready["AvailableProvisionedConcurrentExecutions"] == 3
    assert "LastModified" in ready

    # Sequential: the warm provisioned instances answer, none reports an init.
    seen = set()
    for _ in range(3):
        out, log = invoke(lam, prov, {"action": "info"})
        assert "Init Duration" not in log, log
        assert out["env"]["AWS_LAMBDA_INITIALIZATION_TYPE"] == "provisioned-concurrency"
        seen.add(out["instance"])
    # Parallel: three at once run on the three provisioned instances.
    results = parallel(lam, prov, {"action": "sleep", "seconds": 0.5}, 3)
    for out, log in results:
        assert "Init Duration" not in log, log
    instances = {out["instance"] for out, _ in results}
    assert len(instances) == 3

    # An on-demand function's instance is cold once, then reaped after 2 s idle.
    _, log = invoke(lam, plain, {"action": "info"})
    assert "Init Duration" in log
    time.sleep(4.5)
    h.wait_until(lambda: any(plain in line and "reaping idle instance" in line
                             for line in srv.log_text().splitlines()), 5,
                 "the on-demand instance to be reaped")
    _, log = invoke(lam, plain, {"action": "info"})
    assert "Init Duration" in log, "the reaped function should start cold"
    # The provisioned ones survived the idle time.
    results = parallel(lam, prov, {"action": "sleep", "seconds": 0.5}, 3)
    for out, log in results:
        assert "Init Duration" not in log, log
    assert {out["instance"] for out, _ in results} == instances

    listed = lam.list_provisioned_concurrency_configs(FunctionName=prov)
    items = listed["ProvisionedConcurrencyConfigs"]
    assert len(items) == 1 and items[0]["FunctionArn"].endswith(":function:" + prov + ":$LATEST")
    assert items[0]["Status"] == "READY"

    # Delete: the config goes and so do its instances.
    def exits():
        return sum(1 for line in srv.log_text().splitlines()
                   if '"instance exited"' in line and prov in line)
    exited_before = exits()
    lam.delete_provisioned_concurrency_config(FunctionName=prov, Qualifier="$LATEST")
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.get_provisioned_concurrency_config(FunctionName=prov, Qualifier="$LATEST")
    assert h.error_code(e.value) == "ProvisionedConcurrencyConfigNotFoundException"
    h.wait_until(lambda: exits() >= exited_before + 3, 10,
                 "the provisioned instances to end")
    assert lam.list_provisioned_concurrency_configs(
        FunctionName=prov)["ProvisionedConcurrencyConfigs"] == []
    _, log = invoke(lam, prov, {"action": "info"})
    assert "Init Duration" in log, "without provisioned concurrency the next invoke is cold"


def test_dead_provisioned_instance_is_replaced_and_change_reprovisions(lam, make_function):
    fn = make_function(Timeout=10)
    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST",
                                           ProvisionedConcurrentExecutions=1)
    wait_status(lam, fn.name, "READY")
    first, log = invoke(lam, fn.name, {"action": "info"})
    assert "Init Duration" not in log
    resp = lam.invoke(FunctionName=fn.name, Payload=json.dumps({"action": "crash"}).encode())
    assert resp.get("FunctionError") == "Unhandled"

    def replaced():
        cfg = lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST")
        if cfg["Status"] != "READY":
            return None
        out, log = invoke(lam, fn.name, {"action": "info"})
        return (out, log) if out["instance"] != first["instance"] else None
    out, log = h.wait_until(replaced, 20, "a replacement provisioned instance")
    assert "Init Duration" not in log, log

    # A configuration change re-provisions: new instances with the new settings.
    lam.update_function_configuration(FunctionName=fn.name,
                                      Environment={"Variables": {"MARK": "v2"}})
    h.wait_ready(lam, fn.name)

    def reprovisioned():
        cfg = lam.get_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST")
        if cfg["Status"] != "READY":
            return None
        got, log = invoke(lam, fn.name, {"action": "info"})
        return (got, log) if got["env"].get("MARK") == "v2" else None
    got, log = h.wait_until(reprovisioned, 20, "provisioned instances of the new configuration")
    assert "Init Duration" not in log, log
    assert got["instance"] != out["instance"]


def test_validation_errors_in_lambdas_shape(lam, make_function, server):
    fn = make_function()

    def code_of(**kwargs):
        client = kwargs.pop("client", lam)
        with pytest.raises(botocore.exceptions.ClientError) as e:
            client.put_provisioned_concurrency_config(**kwargs)
        return h.error_code(e.value), h.http_status(e.value)

    unchecked = boto3.session.Session(
        aws_access_key_id=server.access_key, aws_secret_access_key=server.secret_key,
        region_name=h.REGION).client(
            "lambda", endpoint_url=server.url,
            config=botocore.config.Config(parameter_validation=False,
                                          retries={"max_attempts": 0}))
    assert code_of(client=unchecked, FunctionName=fn.name, Qualifier="$LATEST",
                   ProvisionedConcurrentExecutions=0) == ("InvalidParameterValueException", 400)
    assert code_of(FunctionName=fn.name, Qualifier="$LATEST",
                   ProvisionedConcurrentExecutions=100000) == (
                       "InvalidParameterValueException", 400)
    # Above what the unreserved pool can give (host limit 1000, 100 stay unreserved).
    assert code_of(FunctionName=fn.name, Qualifier="$LATEST",
                   ProvisionedConcurrentExecutions=950)[0] == "InvalidParameterValueException"
    assert code_of(FunctionName=h.unique_name("nope"), Qualifier="$LATEST",
                   ProvisionedConcurrentExecutions=1) == ("ResourceNotFoundException", 404)
    assert code_of(FunctionName=fn.name, Qualifier="bad!qualifier",
                   ProvisionedConcurrentExecutions=1)[0] == "InvalidParameterValueException"
    assert code_of(FunctionName=fn.name, Qualifier="7",
                   ProvisionedConcurrentExecutions=1) == ("ResourceNotFoundException", 404)
    # Provisioned concurrency comes out of the reservation.
    lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=2)
    assert code_of(FunctionName=fn.name, Qualifier="$LATEST",
                   ProvisionedConcurrentExecutions=3)[0] == "InvalidParameterValueException"
    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST",
                                           ProvisionedConcurrentExecutions=2)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=1)
    assert h.error_code(e.value) == "InvalidParameterValueException"
    lam.delete_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST")
    for call in (lam.get_provisioned_concurrency_config, lam.delete_provisioned_concurrency_config):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            call(FunctionName=fn.name, Qualifier="$LATEST")
        assert h.error_code(e.value) == "ProvisionedConcurrencyConfigNotFoundException"
        assert h.http_status(e.value) == 404


def test_deleting_the_function_deletes_its_configs(lam, make_function):
    fn = make_function()
    lam.put_provisioned_concurrency_config(FunctionName=fn.name, Qualifier="$LATEST",
                                           ProvisionedConcurrentExecutions=1)
    wait_status(lam, fn.name, "READY")
    lam.delete_function(FunctionName=fn.name)
    lam.create_function(FunctionName=fn.name, Runtime="python3.11", Role=h.ROLE,
                        Handler=h.DEFAULT_HANDLERS["python3.11"], Code={"ZipFile": fn.zip})
    assert lam.list_provisioned_concurrency_configs(
        FunctionName=fn.name)["ProvisionedConcurrencyConfigs"] == []


def restart(srv):
    """Stops `srv` cleanly and starts nimbus again on the same port and data folder."""
    conftest._stop(srv, check=True)
    log_path = srv.log_path.with_name("server-restarted.stderr.log")
    cmd = [str(conftest.nimbus_bin()), "serve", "--listen", f"127.0.0.1:{srv.port}",
           "--data", str(srv.data_dir), "--keep-alive-seconds", "30"]
    with open(log_path, "wb") as err:
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                stderr=err, env=conftest._server_env(srv.secret_key),
                                cwd=srv.data_dir.parent, start_new_session=True)
    again = dataclasses.replace(srv, log_path=log_path, proc=proc)
    conftest._wait_healthy(again)
    return again


def test_restart_provisions_again(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    name = h.unique_name("prov-restart")
    create(lam, zip_of("python3.11"), name)
    lam.put_provisioned_concurrency_config(FunctionName=name, Qualifier="$LATEST",
                                           ProvisionedConcurrentExecutions=2)
    wait_status(lam, name, "READY")
    again = restart(srv)
    try:
        lam = make_lambda_client(again)
        cfg = wait_status(lam, name, "READY")
        assert cfg["RequestedProvisionedConcurrentExecutions"] == 2
        _, log = invoke(lam, name, {"action": "info"})
        assert "Init Duration" not in log, log
    finally:
        conftest._stop(again, check=True)
