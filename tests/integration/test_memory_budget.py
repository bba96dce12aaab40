"""The host memory budget: the MemorySize of live instances never exceeds it; idle
instances of other functions are reaped (least recently used first) to make room, and
only when nothing can be reaped does an invoke get 429."""
import concurrent.futures
import json

import nimbus_helpers as h
from conftest import make_lambda_client


def create(lam, zip_bytes, name, timeout=10):
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                        Handler=h.DEFAULT_HANDLERS["python3.11"], Code={"ZipFile": zip_bytes},
                        MemorySize=128, Timeout=timeout)
    h.wait_ready(lam, name)


def instance_of(lam, name):
    """The answering instance's random id (pids repeat across pid namespaces)."""
    resp = lam.invoke(FunctionName=name, Payload=json.dumps({"action": "info"}).encode())
    assert "FunctionError" not in resp
    return json.loads(h.read_payload(resp))["instance"]


def test_fifth_instance_reaps_an_idle_one_of_another_function(custom_server, zip_of):
    srv = custom_server("--memory-budget-mb", "512")
    lam = make_lambda_client(srv, pool=8)
    code = zip_of("python3.11")
    names = [h.unique_name("mem") for _ in range(5)]
    for n in names:
        create(lam, code, n)
    # Four 128 MB instances fill the 512 MB budget; all four are idle afterwards.
    first = {n: instance_of(lam, n) for n in names[:4]}
    # A fifth function needs room: the least recently used idle instance (names[0]) goes.
    instance_of(lam, names[4])
    reaped = [json.loads(line) for line in srv.log_text().splitlines()
              if "reaping idle instance for memory" in line]
    assert [r["function"] for r in reaped] == [names[0]], reaped
    # The other three are still warm: the same instances answer.
    for n in names[1:4]:
        assert instance_of(lam, n) == first[n], f"{n} should still be warm"


def test_budget_full_of_busy_instances_gives_429(custom_server, zip_of):
    srv = custom_server("--memory-budget-mb", "256")
    lam = make_lambda_client(srv, pool=8)
    code = zip_of("python3.11")
    name = h.unique_name("busy")
    create(lam, code, name)

    def call(_):
        try:
            resp = lam.invoke(FunctionName=name,
                              Payload=json.dumps({"action": "sleep", "seconds": 2}).encode())
            return resp["StatusCode"], None
        except Exception as e:  # botocore ClientError
            return h.http_status(e), e.response

    with concurrent.futures.ThreadPoolExecutor(3) as pool:
        results = list(pool.map(call, range(3)))
    statuses = sorted(s for s, _ in results)
    assert statuses == [200, 200, 429], results
    throttled = next(r for s, r in results if s == 429)
    assert throttled["Error"]["Code"] == "TooManyRequestsException"
    assert "memory budget" in throttled["Error"]["Message"]


def test_burst_cannot_starve_another_functions_reservation(custom_server, zip_of):
    """512 MB budget, a function with reserved concurrency 2 (2 x 128 MB held for it): a
    burst of another function gets only the other 256 MB, and the reserved function still
    runs two at once."""
    srv = custom_server("--memory-budget-mb", "512")
    lam = make_lambda_client(srv, pool=8)
    code = zip_of("python3.11")
    reserved, burst = h.unique_name("resv"), h.unique_name("burst")
    create(lam, code, reserved)
    create(lam, code, burst)
    lam.put_function_concurrency(FunctionName=reserved, ReservedConcurrentExecutions=2)

    def call(name):
        try:
            resp = lam.invoke(FunctionName=name,
                              Payload=json.dumps({"action": "sleep", "seconds": 1.5}).encode())
            return resp["StatusCode"], None
        except Exception as e:  # botocore ClientError
            return h.http_status(e), e.response

    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        results = list(pool.map(call, [burst] * 4))
    assert sorted(s for s, _ in results) == [200, 200, 429, 429], results
    throttled = next(r for s, r in results if s == 429)
    assert "reserved concurrency" in throttled["Error"]["Message"], throttled
    # While two burst instances are idle, the reserved function gets its two.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(call, [reserved] * 2))
    assert [s for s, _ in results] == [200, 200], results
