"""Function health summaries: GET /v1/functions/{name}/stats?window= and `nimbus stats`
after a known mix of successes, errors, a timeout, throttles, overlapping invocations
and an async event given up on (a DLQ addition)."""
import json
import os
import subprocess
import threading

import requests

import nimbus_helpers as h
from conftest import make_lambda_client, nimbus_bin

STATS_FN = '''
import time
def main(event, context):
    time.sleep(event.get("sleep", 0))
    if event.get("fail"):
        raise ValueError("asked to fail")
    return {"ok": True}
'''


def _cli(srv, *args):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("NIMBUS_") and not k.startswith("AWS_")}
    env.update(NIMBUS_ACCESS_KEY_ID=srv.access_key, NIMBUS_SECRET_ACCESS_KEY=srv.secret_key,
               NIMBUS_ENDPOINT=srv.url)
    return subprocess.run([str(nimbus_bin()), *args], env=env, capture_output=True, text=True,
                          timeout=60)


def test_stats_summarise_a_known_mix(custom_server):
    srv = custom_server()
    lam = make_lambda_client(srv)
    s = requests.Session()
    s.headers["Authorization"] = srv.bearer
    fn = h.unique_name("stats")
    lam.create_function(FunctionName=fn, Runtime="python3.11", Role=h.ROLE, Handler="app.main",
                        Code={"ZipFile": h.zip_files({"app.py": STATS_FN})}, Timeout=1,
                        MemorySize=256)
    h.wait_ready(lam, fn)
    url = f"{srv.url}/2015-03-31/functions/{fn}/invocations"

    def invoke(event, headers=None):
        return s.post(url, data=json.dumps(event), headers=headers or {}, timeout=60)

    for _ in range(4):
        assert invoke({}).status_code == 200
    # Three at once: three instances, overlapping.
    threads = [threading.Thread(target=invoke, args=({"sleep": 0.5},)) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for _ in range(2):
        r = invoke({"fail": True})
        assert r.headers.get("X-Amz-Function-Error") == "Unhandled"
    r = invoke({"sleep": 2})
    assert r.headers.get("X-Amz-Function-Error") == "Unhandled"  # timed out
    # One async event that fails with no retries: dead, a DLQ addition.
    lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=0)
    r = invoke({"fail": True}, {"X-Amz-Invocation-Type": "Event"})
    assert r.status_code == 202
    h.wait_until(lambda: s.get(f"{srv.url}/v1/functions/{fn}/async-events").json()["dead"] == 1
                 or None, 20, "the event to die")
    # Throttles: no concurrency left.
    lam.put_function_concurrency(FunctionName=fn, ReservedConcurrentExecutions=0)
    for _ in range(2):
        assert invoke({}).status_code == 429

    def stats():
        r = s.get(f"{srv.url}/v1/functions/{fn}/stats", params={"window": "15m"}, timeout=10)
        assert r.status_code == 200, r.text
        body = r.json()
        return body if body["invocations"] + body["throttles"] == 13 else None

    st = h.wait_until(stats, 10, "all records written")
    assert st["window"] == "15m" and st["function"] == fn
    assert st["invocations"] == 11  # 4 + 3 + 2 errors + 1 timeout + 1 async
    assert st["successes"] == 7
    assert st["function_errors"] == 3 and st["timeouts"] == 1 and st["errors"] == 4
    assert st["throttles"] == 2
    assert abs(st["success_rate"] - 7 / 11) < 1e-9
    assert abs(st["throttle_rate"] - 2 / 13) < 1e-9
    d = st["duration_ms"]
    assert 0 < d["p50"] <= d["p95"] <= d["p99"] <= d["max"]
    assert d["p99"] >= 900  # the timeout ran about a second
    assert d["p50"] < 500
    assert st["cold_starts"] >= 3 and st["avg_init_duration_ms"] > 0
    assert 0 < st["cold_start_rate"] < 1
    assert st["max_concurrency"] >= 3
    assert st["dlq_additions"] == 1
    assert st["gb_seconds"] > 0.25 * 1.5  # > 1.5 s billed at 256 MB
    cost = st["cost"]
    assert abs(cost["total"] - (st["gb_seconds"] * 0.0000166667 + 11 * 0.0000002)) < 1e-12

    # Prices are configurable; a bad window or an unknown function is refused.
    r = s.get(f"{srv.url}/v1/functions/{fn}/stats",
              params={"window": "1h", "price_per_gb_second": "1", "price_per_request": "0"})
    assert abs(r.json()["cost"]["total"] - r.json()["gb_seconds"]) < 1e-9
    assert s.get(f"{srv.url}/v1/functions/{fn}/stats", params={"window": "31d"}).status_code == 400
    assert s.get(f"{srv.url}/v1/functions/{fn}/stats", params={"window": "x"}).status_code == 400
    assert s.get(f"{srv.url}/v1/functions/nope-{fn}/stats").status_code == 404
    # Nothing in a window that ended before it all.
    assert s.get(f"{srv.url}/v1/functions/{fn}/stats").json()["window"] == "1h"

    out = _cli(srv, "stats", fn, "--window", "15m", "--json")
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["invocations"] == 11
    out = _cli(srv, "stats", fn, "-w", "15m", "--price-per-gb-second", "0.0001")
    assert out.returncode == 0, out.stderr
    assert "invocations         11" in out.stdout
    assert "max concurrency" in out.stdout and "p99" in out.stdout
    assert "dlq additions       1" in out.stdout
    out = _cli(srv, "stats", fn, "--window", "bogus")
    assert out.returncode != 0 and "window" in out.stderr
