"""Traces: W3C traceparent/tracestate and X-Amzn-Trace-Id on invoke, the function's view
of the trace (_X_AMZN_TRACE_ID, TRACEPARENT), and the spans nimbus exports with
OTLP/HTTP JSON to a capture collector run by the test: gateway, queue wait (async), init
(cold start) and invoke, with their parent links; a collector that is down or stuck
costs spans (counted in /metrics), never invocations."""
import json
import re
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests

import nimbus_helpers as h
from conftest import make_lambda_client

TRACE_FN = '''
import os, time
def main(event, context):
    time.sleep(event.get("sleep", 0))
    return {"xray": os.environ.get("_X_AMZN_TRACE_ID"),
            "traceparent": os.environ.get("TRACEPARENT"),
            "tracestate": os.environ.get("TRACESTATE")}
'''

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CALLER_SPAN = "00f067aa0ba902b7"


class Collector:
    """An OTLP/HTTP JSON endpoint on a free loopback port that keeps every span."""

    def __init__(self):
        self.spans = []
        self.requests = 0
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                ok = self.path == "/v1/traces" and \
                    self.headers.get("Content-Type", "").startswith("application/json")
                if ok:
                    doc = json.loads(body)
                    with collector.lock:
                        collector.requests += 1
                        for rs in doc["resourceSpans"]:
                            for ss in rs["scopeSpans"]:
                                for span in ss["spans"]:
                                    span["_resource"] = rs["resource"]
                                    collector.spans.append(span)
                self.send_response(200 if ok else 400)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")

            def log_message(self, *args):
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def of_trace(self, trace_id):
        with self.lock:
            return [s for s in self.spans if s["traceId"] == trace_id]

    def wait_spans(self, trace_id, names, timeout=15):
        def got():
            spans = self.of_trace(trace_id)
            have = {s["name"] for s in spans}
            return spans if set(names) <= have else None
        return h.wait_until(got, timeout, f"spans {names} of trace {trace_id}")

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def collector():
    c = Collector()
    yield c
    c.close()


def _by_name(spans, name):
    found = [s for s in spans if s["name"] == name]
    assert len(found) == 1, (name, spans)
    return found[0]


def _attrs(span):
    out = {}
    for a in span["attributes"]:
        v = a["value"]
        out[a["key"]] = next(iter(v.values()))
    return out


def _xray_trace_id(header):
    m = re.search(r"Root=1-([0-9a-f]{8})-([0-9a-f]{24})", header)
    assert m, header
    return m.group(1) + m.group(2)


def _xray_parent(header):
    m = re.search(r"Parent=([0-9a-f]{16})", header)
    return m.group(1) if m else None


class Api:
    def __init__(self, srv):
        self.srv = srv
        self.s = requests.Session()
        self.s.headers["Authorization"] = srv.bearer

    def invoke(self, name, event=None, headers=None):
        return self.s.post(f"{self.srv.url}/2015-03-31/functions/{name}/invocations",
                           data=json.dumps(event or {}), headers=headers or {}, timeout=60)

    def metric(self, name):
        text = self.s.get(self.srv.url + "/metrics", timeout=10).text
        m = re.search(r"^" + re.escape(name) + r" (\S+)$", text, re.M)
        return float(m.group(1)) if m else None


def _create(srv, **kw):
    lam = make_lambda_client(srv)
    name = h.unique_name("trace")
    lam.create_function(FunctionName=name, Runtime="python3.11", Role=h.ROLE,
                        Handler="app.main", Code={"ZipFile": h.zip_files({"app.py": TRACE_FN})},
                        **kw)
    h.wait_ready(lam, name)
    return lam, name


def test_given_traceparent_links_spans_and_reaches_the_function(custom_server, collector):
    srv = custom_server("--otlp-endpoint", collector.url)
    lam, fn = _create(srv)
    api = Api(srv)
    r = api.invoke(fn, headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
                                "tracestate": "vendor=abc,other=1"})
    assert r.status_code == 200, r.text
    seen = r.json()
    request_id = r.headers["x-amzn-RequestId"]

    spans = collector.wait_spans(TRACE_ID, ["nimbus.gateway", "nimbus.init", "nimbus.invoke"])
    gateway = _by_name(spans, "nimbus.gateway")
    init = _by_name(spans, "nimbus.init")
    invoke = _by_name(spans, "nimbus.invoke")
    assert gateway["parentSpanId"] == CALLER_SPAN
    assert gateway["kind"] == 2
    assert init["parentSpanId"] == gateway["spanId"]
    assert invoke["parentSpanId"] == gateway["spanId"]
    assert len({gateway["spanId"], init["spanId"], invoke["spanId"]}) == 3
    for s in (gateway, init, invoke):
        assert re.fullmatch(r"[0-9a-f]{16}", s["spanId"])
        assert int(s["startTimeUnixNano"]) <= int(s["endTimeUnixNano"])
        assert s["traceState"] == "vendor=abc,other=1"
    # Nested in time: init then invoke, both inside the gateway span.
    g0, g1 = int(gateway["startTimeUnixNano"]), int(gateway["endTimeUnixNano"])
    assert g0 <= int(init["startTimeUnixNano"]) <= int(init["endTimeUnixNano"])
    assert int(init["endTimeUnixNano"]) <= int(invoke["startTimeUnixNano"])
    assert int(invoke["endTimeUnixNano"]) <= g1
    a = _attrs(invoke)
    assert a["faas.invocation_id"] == request_id
    assert a["faas.coldstart"] is True
    assert a["faas.trigger"] == "http"
    assert a["cloud.resource_id"].endswith(":function:" + fn)
    assert _attrs(init)["faas.coldstart"] is True
    assert _attrs(gateway)["http.response.status_code"] == "200"
    resource = {x["key"]: x["value"]["stringValue"] for x in gateway["_resource"]["attributes"]}
    assert resource["service.name"] == "nimbus"

    # The function saw the same trace, with the invoke span as its parent.
    assert _xray_trace_id(seen["xray"]) == TRACE_ID
    assert _xray_parent(seen["xray"]) == invoke["spanId"]
    assert "Sampled=1" in seen["xray"]
    assert seen["traceparent"] == f"00-{TRACE_ID}-{invoke['spanId']}-01"
    assert seen["tracestate"] == "vendor=abc,other=1"

    # The record keeps the trace id; a warm invoke has no init span.
    rec = h.wait_until(lambda: (api.s.get(srv.url + "/v1/invocations",
                                          params={"request_id": request_id}).json()
                                ["invocations"] or None), 10, "the record")
    assert rec[0]["trace_id"] == TRACE_ID
    warm_trace = "0af7651916cd43dd8448eb211c80319c"
    r = api.invoke(fn, headers={"traceparent": f"00-{warm_trace}-b7ad6b7169203331-01"})
    assert r.status_code == 200
    warm = collector.wait_spans(warm_trace, ["nimbus.gateway", "nimbus.invoke"])
    assert not [s for s in warm if s["name"] == "nimbus.init"]
    assert _attrs(_by_name(warm, "nimbus.invoke"))["faas.coldstart"] is False


def test_missing_or_xray_trace_headers(custom_server, collector):
    srv = custom_server("--otlp-endpoint", collector.url)
    _, fn = _create(srv)
    api = Api(srv)
    # None given: a new trace, the same id in both forms; the gateway span is a root.
    r = api.invoke(fn)
    assert r.status_code == 200, r.text
    trace = _xray_trace_id(r.json()["xray"])
    assert r.json()["traceparent"].split("-")[1] == trace
    spans = collector.wait_spans(trace, ["nimbus.gateway", "nimbus.invoke"])
    gateway = _by_name(spans, "nimbus.gateway")
    assert "parentSpanId" not in gateway or not gateway["parentSpanId"]
    assert _by_name(spans, "nimbus.invoke")["parentSpanId"] == gateway["spanId"]
    # An X-Amzn-Trace-Id only: its Root is the trace id, its Parent the gateway's parent.
    r = api.invoke(fn, headers={
        "X-Amzn-Trace-Id": "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;"
                           "Sampled=1"})
    assert r.status_code == 200, r.text
    assert _xray_trace_id(r.json()["xray"]) == "5759e988bd862e3fe1be46a994272793"
    spans = collector.wait_spans("5759e988bd862e3fe1be46a994272793",
                                 ["nimbus.gateway", "nimbus.invoke"])
    assert _by_name(spans, "nimbus.gateway")["parentSpanId"] == "53995c3f42cd8ad8"
    # A malformed traceparent is ignored (W3C): a new trace.
    r = api.invoke(fn, headers={"traceparent": "00-xyz-00f067aa0ba902b7-01"})
    assert r.status_code == 200
    assert re.fullmatch(r"[0-9a-f]{32}", _xray_trace_id(r.json()["xray"]))


def test_async_invoke_has_a_queue_wait_span(custom_server, collector):
    srv = custom_server("--otlp-endpoint", collector.url)
    _, fn = _create(srv)
    api = Api(srv)
    trace = "1234567890abcdef1234567890abcdef"
    r = api.invoke(fn, headers={"X-Amz-Invocation-Type": "Event",
                                "traceparent": f"00-{trace}-{CALLER_SPAN}-01"})
    assert r.status_code == 202, r.text
    spans = collector.wait_spans(trace, ["nimbus.gateway", "nimbus.queue_wait", "nimbus.invoke"])
    gateway = _by_name(spans, "nimbus.gateway")
    wait = _by_name(spans, "nimbus.queue_wait")
    invoke = _by_name(spans, "nimbus.invoke")
    assert gateway["parentSpanId"] == CALLER_SPAN
    assert _attrs(gateway)["nimbus.invocation_type"] == "Event"
    assert wait["parentSpanId"] == gateway["spanId"]
    assert invoke["parentSpanId"] == gateway["spanId"]
    assert int(wait["endTimeUnixNano"]) <= int(invoke["startTimeUnixNano"])
    assert _attrs(invoke)["faas.trigger"] == "other"
    assert _attrs(invoke)["nimbus.trigger"] == "async"
    assert _attrs(wait)["faas.invocation_id"] == r.headers["x-amzn-RequestId"]


def _stuck_listener():
    """A socket that accepts connections (in the backlog) and never answers."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.listen(64)
    return s


def _closed_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("kind", ["down", "stuck"])
def test_a_bad_collector_costs_spans_not_invocations(custom_server, kind):
    stuck = _stuck_listener() if kind == "stuck" else None
    port = stuck.getsockname()[1] if stuck else _closed_port()
    try:
        srv = custom_server("--otlp-endpoint", f"http://127.0.0.1:{port}",
                            "--otlp-timeout-ms", "300")
        _, fn = _create(srv)
        api = Api(srv)
        assert api.invoke(fn).status_code == 200  # warm it
        times = []
        for _ in range(30):
            t0 = time.monotonic()
            r = api.invoke(fn)
            times.append(time.monotonic() - t0)
            assert r.status_code == 200, r.text
        times.sort()
        # Warm invokes stay fast whatever the collector does (the export timeout is 300 ms).
        assert times[len(times) // 2] < 0.25, times
        dropped = h.wait_until(
            lambda: (api.metric("nimbus_trace_spans_dropped_total") or 0) > 0 or None, 15,
            "dropped spans counted")
        assert dropped
    finally:
        if stuck:
            stuck.close()


NODE_FN = """
exports.handler = async () => ({xray: process.env._X_AMZN_TRACE_ID,
                                traceparent: process.env.TRACEPARENT,
                                tracestate: process.env.TRACESTATE});
"""


def test_no_endpoint_no_spans_but_trace_ids_still_flow(custom_server):
    srv = custom_server()
    lam, fn = _create(srv)
    api = Api(srv)
    r = api.invoke(fn, headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-00"})
    assert r.status_code == 200
    assert _xray_trace_id(r.json()["xray"]) == TRACE_ID
    assert "Sampled=0" in r.json()["xray"] and r.json()["traceparent"].endswith("-00")
    assert api.metric("nimbus_trace_spans_dropped_total") == 0
    # The node runtime sets the same variables.
    node = h.unique_name("trace-node")
    lam.create_function(FunctionName=node, Runtime="nodejs20.x", Role=h.ROLE,
                        Handler="index.handler",
                        Code={"ZipFile": h.zip_files({"index.js": NODE_FN})})
    h.wait_ready(lam, node)
    r = api.invoke(node, headers={"traceparent": f"00-{TRACE_ID}-{CALLER_SPAN}-01",
                                  "tracestate": "k=v"})
    assert r.status_code == 200, r.text
    seen = r.json()
    assert _xray_trace_id(seen["xray"]) == TRACE_ID
    assert seen["traceparent"].startswith(f"00-{TRACE_ID}-")
    assert seen["traceparent"].split("-")[2] == _xray_parent(seen["xray"])
    assert seen["tracestate"] == "k=v"
