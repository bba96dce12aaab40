"""Prometheus metrics at GET /metrics: exact counts after a known mix of successes,
function errors, timeouts and throttles; the text format passes `promtool check
metrics`; a real Prometheus server scrapes nimbus and answers PromQL about it."""
import json
import os
import re
import shutil
import socket
import subprocess
import time
import urllib.parse

import pytest
import requests

import nimbus_helpers as h
from conftest import make_lambda_client

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"


def _invoke(srv, name, event):
    return requests.post(f"{srv.url}/2015-03-31/functions/{name}/invocations",
                         headers={"Authorization": srv.bearer}, data=json.dumps(event),
                         timeout=30)


def _create(lam, zip_of, **kwargs):
    name = h.unique_name("metrics")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                        Handler="app.main", Code={"ZipFile": zip_of("python3.11")}, **kwargs)
    h.wait_ready(lam, name)
    return name


def _scrape(srv, auth=False) -> str:
    headers = {"Authorization": srv.bearer} if auth else {}
    r = requests.get(srv.url + "/metrics", headers=headers, timeout=10)
    assert r.status_code == 200, r.text
    assert r.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return r.text


def _value(text: str, name: str, **labels) -> float:
    """The value of the one series of `name` whose labels include `labels`."""
    found = []
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})? (\S+)$", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(3) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            found.append(float(m.group(4)))
    assert len(found) == 1, f"{name}{labels}: {len(found)} series in\n{text[:3000]}"
    return found[0]


def _known_mix(srv, lam, zip_of):
    """3 successes, 2 function errors, 1 timeout on `fn`; 2 throttles on `off`."""
    fn = _create(lam, zip_of, Timeout=1)
    off = _create(lam, zip_of)
    lam.put_function_concurrency(FunctionName=off, ReservedConcurrentExecutions=0)
    for _ in range(3):
        assert _invoke(srv, fn, {}).status_code == 200
    for _ in range(2):
        r = _invoke(srv, fn, {"action": "fail"})
        assert r.headers.get("X-Amz-Function-Error") == "Unhandled"
    r = _invoke(srv, fn, {"action": "sleep", "seconds": 3})
    assert "Task timed out" in r.text
    for _ in range(2):
        assert _invoke(srv, off, {}).status_code == 429
    return fn, off


def test_metrics_show_exactly_the_known_mix(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    fn, off = _known_mix(srv, lam, zip_of)
    text = _scrape(srv)
    v = "$LATEST"
    assert _value(text, "nimbus_invocations_total", function=fn, version=v,
                  outcome="success") == 3
    assert _value(text, "nimbus_invocations_total", function=fn, version=v,
                  outcome="function_error") == 2
    assert _value(text, "nimbus_invocations_total", function=fn, version=v,
                  outcome="timeout") == 1
    assert _value(text, "nimbus_invocations_total", function=fn, version=v,
                  outcome="throttled") == 0
    assert _value(text, "nimbus_invocations_total", function=off, version=v,
                  outcome="throttled") == 2
    assert _value(text, "nimbus_throttles_total", function=off, version=v) == 2
    assert _value(text, "nimbus_throttles_total", function=fn, version=v) == 0
    # Six runs reached an instance; the timed-out one took about a second.
    assert _value(text, "nimbus_invocation_duration_seconds_count", function=fn, version=v) == 6
    assert _value(text, "nimbus_invocation_duration_seconds_bucket", function=fn, version=v,
                  le="0.5") == 5
    assert _value(text, "nimbus_invocation_duration_seconds_bucket", function=fn, version=v,
                  le="+Inf") == 6
    # The first invocation was cold, and so was the one after the timeout killed it.
    assert _value(text, "nimbus_cold_starts_total", function=fn, version=v) == 1
    assert _value(text, "nimbus_init_duration_seconds_count", function=fn, version=v) == 1
    assert _value(text, "nimbus_concurrent_executions", function=fn, version=v) == 0
    assert _value(text, "nimbus_max_memory_used_bytes", function=fn, version=v) > 1e6
    assert _value(text, "nimbus_billed_gigabyte_seconds_total", function=fn, version=v) > 0.125
    assert _value(text, "nimbus_instances", state="busy") == 0
    assert "# TYPE nimbus_provisioned_instances gauge" in text  # the hook; no series yet
    assert _value(text, "nimbus_http_requests_total", code="429") == 2
    assert _value(text, "process_resident_memory_bytes") > 1e6
    assert _value(text, "process_open_fds") > 3
    assert abs(_value(text, "process_start_time_seconds") - time.time()) < 600
    assert "# TYPE nimbus_async_queue_depth gauge" in text
    assert "# TYPE nimbus_dlq_depth gauge" in text


def test_promtool_accepts_the_exposition(custom_server, zip_of, tmp_path):
    if not os.access(PROMTOOL, os.X_OK):
        pytest.skip("promtool is not installed (Debian package prometheus)")
    srv = custom_server()
    lam = make_lambda_client(srv)
    _known_mix(srv, lam, zip_of)
    text = _scrape(srv)
    p = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=60)
    assert p.returncode == 0, p.stdout + p.stderr


def test_metrics_open_by_default_and_authenticated_with_flag(custom_server):
    open_srv = custom_server()
    assert requests.get(open_srv.url + "/metrics", timeout=5).status_code == 200
    closed = custom_server("--metrics-auth")
    r = requests.get(closed.url + "/metrics", timeout=5)
    assert r.status_code == 403
    assert _scrape(closed, auth=True).startswith("# HELP")


def test_deleted_function_series_are_dropped(custom_server, zip_of):
    srv = custom_server()
    lam = make_lambda_client(srv)
    fn = _create(lam, zip_of)
    assert _invoke(srv, fn, {}).status_code == 200
    assert f'function="{fn}"' in _scrape(srv)
    lam.delete_function(FunctionName=fn)
    assert f'function="{fn}"' not in _scrape(srv)


def test_async_queue_and_retries_are_measured(custom_server, zip_of):
    srv = custom_server("--async-retry-base-ms", "50", "--async-retry-cap-ms", "100")
    lam = make_lambda_client(srv)
    fn = _create(lam, zip_of)
    lam.put_function_event_invoke_config(FunctionName=fn, MaximumRetryAttempts=1)
    r = requests.post(f"{srv.url}/2015-03-31/functions/{fn}/invocations",
                      headers={"Authorization": srv.bearer, "X-Amz-Invocation-Type": "Event"},
                      data=json.dumps({"action": "fail"}), timeout=10)
    assert r.status_code == 202

    def settled():
        text = _scrape(srv)
        dead = re.search(rf'nimbus_dlq_depth{{function="{re.escape(fn)}"}} (\S+)', text)
        return text if dead and float(dead.group(1)) == 1 else None

    text = h.wait_until(settled, 30, "the event to be given up (dlq depth 1)")
    assert _value(text, "nimbus_async_retries_total", function=fn, version="$LATEST") == 1
    assert _value(text, "nimbus_invocations_total", function=fn, version="$LATEST",
                  outcome="function_error") == 2
    assert _value(text, "nimbus_async_queue_depth", function=fn) == 0


# ------------------------------------------------------------------ a real Prometheus

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _promql(base: str, query: str):
    r = requests.get(base + "/api/v1/query", params={"query": query}, timeout=10)
    r.raise_for_status()
    body = r.json()
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_real_prometheus_scrapes_nimbus(custom_server, zip_of, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.skip("prometheus is not installed (Debian package prometheus)")
    srv = custom_server()
    lam = make_lambda_client(srv)
    fn, off = _known_mix(srv, lam, zip_of)

    port = _free_port()
    config = tmp_path / "prometheus.yml"
    config.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n"
        "  - job_name: nimbus\n"
        f"    static_configs:\n      - targets: ['127.0.0.1:{srv.port}']\n")
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(
        [PROMETHEUS, f"--config.file={config}", f"--storage.tsdb.path={tmp_path / 'tsdb'}",
         f"--web.listen-address=127.0.0.1:{port}", "--storage.tsdb.retention.time=1h"],
        stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        def counts():
            try:
                result = _promql(base, f'sum by (outcome) (nimbus_invocations_total{{function="{fn}"}})')
            except requests.RequestException:
                return None
            got = {r["metric"]["outcome"]: float(r["value"][1]) for r in result}
            return got if got.get("success") == 3 else None

        got = h.wait_until(counts, 60, "Prometheus to scrape nimbus", interval=0.5)
        assert got == {"success": 3, "function_error": 2, "timeout": 1, "out_of_memory": 0,
                       "throttled": 0, "platform_error": 0}, got
        throttled = _promql(base, 'sum(nimbus_throttles_total{function="%s"})' % off)
        assert float(throttled[0]["value"][1]) == 2
        up = _promql(base, 'up{job="nimbus"}')
        assert float(up[0]["value"][1]) == 1
        p99 = _promql(base, 'histogram_quantile(0.99, sum by (le) '
                            f'(nimbus_invocation_duration_seconds_bucket{{function="{fn}"}}))')
        value = float(p99[0]["value"][1])
        # One of six runs took the 1 s timeout: the 99th percentile lies in its bucket.
        assert 1.0 <= value <= 2.5, value
        p50 = _promql(base, 'histogram_quantile(0.5, sum by (le) '
                            f'(nimbus_invocation_duration_seconds_bucket{{function="{fn}"}}))')
        assert float(p50[0]["value"][1]) < 0.5
    finally:
        prom.terminate()
        try:
            prom.wait(timeout=15)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
