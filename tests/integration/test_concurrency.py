"""Reserved concurrency, as Lambda has it: Put/Get/DeleteFunctionConcurrency, 429
TooManyRequestsException with Lambda's Reason and a Retry-After header for the excess."""
import concurrent.futures
import json

import botocore.exceptions
import pytest

import nimbus_helpers as h


def test_put_get_delete_function_concurrency(lam, make_function):
    fn = make_function()
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName=fn.name)
    put = lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=3)
    assert put["ReservedConcurrentExecutions"] == 3
    assert lam.get_function_concurrency(FunctionName=fn.name)["ReservedConcurrentExecutions"] == 3
    assert lam.get_function(FunctionName=fn.name)["Concurrency"] == {
        "ReservedConcurrentExecutions": 3}
    lam.delete_function_concurrency(FunctionName=fn.name)
    assert "ReservedConcurrentExecutions" not in lam.get_function_concurrency(
        FunctionName=fn.name)


def test_concurrency_of_unknown_function_is_404(lam):
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName=h.unique_name("nope"),
                                     ReservedConcurrentExecutions=1)
    assert h.error_code(e.value) == "ResourceNotFoundException"


def test_reservation_that_starves_the_unreserved_pool_is_refused(lam, make_function):
    fn = make_function()
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=1000)
    assert h.error_code(e.value) == "InvalidParameterValueException"


def test_reserved_one_throttles_exactly_the_excess(make_function, lambda_client_factory, http):
    fn = make_function(Timeout=10)
    client = lambda_client_factory(pool=12)
    client.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=1)

    def call(_):
        r = http.post(f"/2015-03-31/functions/{fn.name}/invocations",
                      data=json.dumps({"action": "sleep", "seconds": 1.5}))
        return r

    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        results = list(pool.map(call, range(10)))
    ok = [r for r in results if r.status_code == 200]
    throttled = [r for r in results if r.status_code == 429]
    assert len(ok) == 1, [r.status_code for r in results]
    assert len(throttled) == 9
    for r in throttled:
        assert r.headers["x-amzn-ErrorType"] == "TooManyRequestsException"
        assert r.headers["Retry-After"]
        assert r.json()["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"
    # Once the running invocation is done, the slot is free again.
    again = http.post(f"/2015-03-31/functions/{fn.name}/invocations", data="{}")
    assert again.status_code == 200


def test_reserved_zero_disables_the_function(lam, make_function):
    fn = make_function()
    lam.put_function_concurrency(FunctionName=fn.name, ReservedConcurrentExecutions=0)
    for _ in range(3):
        with pytest.raises(botocore.exceptions.ClientError) as e:
            lam.invoke(FunctionName=fn.name, Payload=b"{}")
        assert h.error_code(e.value) == "TooManyRequestsException"
        assert h.http_status(e.value) == 429
    lam.delete_function_concurrency(FunctionName=fn.name)
    assert lam.invoke(FunctionName=fn.name, Payload=b"{}")["StatusCode"] == 200


def test_bounded_wait_lets_a_short_burst_queue(custom_server, zip_of):
    from conftest import make_lambda_client
    srv = custom_server("--throttle-wait-ms", "3000")
    lam = make_lambda_client(srv, pool=4)
    name = h.unique_name("wait")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                        Handler=h.DEFAULT_HANDLERS["python3.11"],
                        Code={"ZipFile": zip_of("python3.11")}, Timeout=10)
    h.wait_ready(lam, name)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=1)

    def call(_):
        return lam.invoke(FunctionName=name,
                          Payload=json.dumps({"action": "sleep", "seconds": 0.3}).encode())

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, range(3)))
    assert [r["StatusCode"] for r in results] == [200, 200, 200]
    # Reserved 0 never waits: it is a switch, not a queue.
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    with pytest.raises(botocore.exceptions.ClientError) as e:
        lam.invoke(FunctionName=name, Payload=b"{}")
    assert h.error_code(e.value) == "TooManyRequestsException"
