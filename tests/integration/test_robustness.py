"""10,000 malformed, truncated and hostile requests over raw sockets; afterwards the server
must still be up, answer /healthz, run a real invoke, and not have leaked connections."""
import base64
import json
import os
import random
import socket
import threading
import time


import nimbus_helpers as h

TOTAL = 10_000
THREADS = 16
BUDGET_S = 55  # the flood must finish within this
SOCKET_TIMEOUT_S = 1.0
READ_BUDGET_S = 0.5  # per connection, for the response head


class Ctx:
    def __init__(self, server, function_name):
        self.host = f"127.0.0.1:{server.port}"
        self.auth = f"Authorization: {server.bearer}\r\n"
        self.fn = function_name


def req(ctx, method, path, headers=(), body=b"", auth=True, content_length=None,
        version="HTTP/1.1"):
    lines = [f"{method} {path} {version}", f"Host: {ctx.host}"]
    lines += [x for x in headers if x]
    head = "\r\n".join(lines) + "\r\n"
    if auth:
        head += ctx.auth
    if content_length is None and body:
        content_length = len(body)
    if content_length is not None:
        head += f"Content-Length: {content_length}\r\n"
    return head.encode("utf-8", "surrogateescape") + b"\r\n" + body


BAD_JSON = [
    b"", b"{", b"}", b"[", b"null", b"not json", b'{"FunctionName": 5}', b"[" * 20000,
    b'{"a":' * 5000, b'{"FunctionName": "x", "Code": {"ZipFile": "!!!not base64!!!"}}',
    b'{"FunctionName": "\\ud800"}', b'{"Timeout": 1e999999}', b'{"MemorySize": -1}',
    b"\xff\xfe\xfd", b'{"FunctionName": "' + b"n" * 100000 + b'"}', b'{"x": "\x00"}',
    b'{"FunctionName": "robust-x", "Runtime": "python3.11", "Role": "arn:aws:iam::123456789012:role/r",'
    b' "Handler": "app.main", "Code": {"ZipFile": "' + base64.b64encode(b"junk" * 50) + b'"}}',
    b'{"FunctionName": "robust-y", "Runtime": "python3.11", "Code": {"ZipFile": 12}}',
    b'{"FunctionName": ["robust-z"], "Runtime": {}, "Handler": null}',
]


# Bodies that are not JSON at all (for operations where some valid JSON would succeed).
BAD_SYNTAX = [b"{", b"}", b"[", b"not json", b"[" * 20000, b'{"a":' * 5000, b"\xff\xfe\xfd",
              b'{"x": "\x00"}', b'{"Timeout": 3,}', b"{'Timeout': 3}", b'{"Timeout": 3} trailing']


def random_bytes(ctx, rng):
    return rng.randbytes(rng.randint(1, 2048)), "shut"


def random_request_line(ctx, rng):
    junk = "".join(rng.choice("ABC /\t%:?#\x7f\x01é") for _ in range(rng.randint(1, 200)))
    return (junk + "\r\n\r\n").encode("utf-8"), "shut"


def bad_request_lines(ctx, rng):
    return rng.choice([
        b"GET\r\n\r\n", b"\r\n\r\n\r\n", b"GET / HTTP/9.9\r\n\r\n", b"GET / HTTQ/1.1\r\n\r\n",
        b"GET /\r\n\r\n", b"G\x00ET / HTTP/1.1\r\nHost: x\r\n\r\n", b" / HTTP/1.1\r\n\r\n",
        b"GET  HTTP/1.1\r\n\r\n", b"GET / HTTP/1.1 extra\r\n\r\n", b"get / http/1.1\r\n\r\n",
        b"GET http://[::1/ HTTP/1.1\r\n\r\n", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
        b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03",  # a TLS ClientHello start
    ]), "shut"


def long_uri(ctx, rng):
    return req(ctx, "GET", "/" + "a" * rng.randint(10_000, 100_000)), "shut"


def huge_header(ctx, rng):
    return req(ctx, "GET", "/2015-03-31/functions",
               [f"X-Big: {'b' * rng.randint(50_000, 300_000)}"]), "shut"


def many_headers(ctx, rng):
    return req(ctx, "GET", "/2015-03-31/functions",
               [f"X-H{i}: {i}" for i in range(rng.randint(500, 5000))]), "shut"


def malformed_headers(ctx, rng):
    return req(ctx, "GET", "/2015-03-31/functions", [rng.choice([
        "NoColonHere", ": empty-name", "X-Fold: a\r\n  folded", "X-Nul: a\x00b",
        "Bad Name: x", "X-Utf8: \udcff\udcfe", "Host: second-host", "Content-Length: 5, 6",
        "Authorization: Bearer " + "k" * 20000, "Authorization: AWS4-HMAC-SHA256 ",
        "Authorization: AWS4-HMAC-SHA256 Credential=/////, SignedHeaders=, Signature=zz",
        "X-Amz-Date: 99999999T999999Z",
    ])]), "shut"


def truncated_body(ctx, rng):
    path = rng.choice(["/2015-03-31/functions",
                       f"/2015-03-31/functions/{ctx.fn}/invocations",
                       f"/2015-03-31/functions/{ctx.fn}/code"])
    method = "PUT" if path.endswith("/code") else "POST"
    declared = rng.choice([1_000, 100_000, 5_000_000, 7_000_000])
    sent = rng.randbytes(rng.randint(0, min(declared - 1, 4096)))
    return req(ctx, method, path, body=sent, content_length=declared), rng.choice(["close", "rst"])


def bad_content_length(ctx, rng):
    value = rng.choice(["-5", "abc", "99999999999999999999999", "1e3", " ", "0x10", "5\x00"])
    return req(ctx, "POST", f"/2015-03-31/functions/{ctx.fn}/invocations",
               [f"Content-Length: {value}"], body=b"{}", content_length=None), "shut"


def bad_chunked(ctx, rng):
    body = rng.choice([
        b"zz\r\nhello\r\n0\r\n\r\n", b"ffffffffffffffffffff\r\nabc\r\n", b"5\r\nhello0\r\n\r\n",
        b"5;ext=\x01\r\nhello\r\n0\r\n\r\n", b"-1\r\n\r\n", b"3\r\nabcdef\r\n0\r\n\r\n",
        b"10\r\nshort", b"0\r\nTrailer-Without-End: x", b"\r\n\r\n",
    ])
    headers = ["Transfer-Encoding: chunked"]
    if rng.random() < 0.3:
        headers.append("Content-Length: 4")
    if rng.random() < 0.2:
        headers = ["Transfer-Encoding: gzip, chunked"]
    return req(ctx, "POST", f"/2015-03-31/functions/{ctx.fn}/invocations", headers,
               body=body, content_length=None), rng.choice(["shut", "close"])


def bad_json_create(ctx, rng):
    return req(ctx, "POST", "/2015-03-31/functions", ["Content-Type: application/json"],
               body=rng.choice(BAD_JSON)), "shut"


def bad_json_update(ctx, rng):
    path = rng.choice([f"/2015-03-31/functions/{ctx.fn}/configuration",
                       f"/2015-03-31/functions/{ctx.fn}/code"])
    return req(ctx, "PUT", path, body=rng.choice(BAD_SYNTAX)), "shut"


def bad_json_invoke(ctx, rng):
    body = rng.choice([b"not json", b"{", b"\xff\xfe", b'{"a": ', b"[1, 2,", b"'single'"])
    headers = [rng.choice(["X-Amz-Invocation-Type: RequestResponse",
                           "X-Amz-Invocation-Type: Event", "X-Amz-Invocation-Type: Bogus",
                           "X-Amz-Log-Type: Tail", "X-Amz-Client-Context: !!!"])]
    return req(ctx, "POST", f"/2015-03-31/functions/{ctx.fn}/invocations", headers,
               body=body), "shut"


def weird_paths(ctx, rng):
    path = rng.choice([
        "/2015-03-31/functions/%zz", "/2015-03-31/functions/%00/invocations",
        "/2015-03-31/functions/..%2f..%2fetc%2fpasswd", "/2015-03-31/functions/../../etc/passwd",
        "//2015-03-31//functions", "/2015-03-31/functions?MaxItems=-1",
        "/2015-03-31/functions?MaxItems=abc&Marker=%ff%fe", "/2015-03-31/functions?%%%",
        "/2015-03-31/functions/" + "x" * 5000, "*", "http://evil/2015-03-31/functions",
        f"/2015-03-31/functions/{ctx.fn}/invocations?Qualifier=%00",
        "/v1/functions/%2e%2e/logs?limit=-1", "/healthz?" + "q=" * 1000,
    ])
    method = rng.choice(["GET", "POST", "DELETE", "PUT", "OPTIONS", "TRACE", "CONNECT"])
    return req(ctx, method, path, body=b"{}" if method in ("POST", "PUT") else b""), "shut"


def no_or_bad_auth(ctx, rng):
    return req(ctx, "POST", f"/2015-03-31/functions/{ctx.fn}/invocations", body=b"{}",
               auth=False, headers=[rng.choice([
                   "", "Authorization: Bearer :", "Authorization: Bearer a:b:c",
                   "Authorization: AWS4-HMAC-SHA256 Credential=AKIDNIMBUSTEST/x/y/z/w, "
                   "SignedHeaders=host;x-amz-date, Signature=" + "f" * 64,
               ])]), "shut"


def pipelined_garbage(ctx, rng):
    good = req(ctx, "GET", "/healthz", auth=False)
    return good + rng.randbytes(rng.randint(1, 512)), "shut"


def expect_continue_abandoned(ctx, rng):
    return req(ctx, "POST", f"/2015-03-31/functions/{ctx.fn}/invocations",
               ["Expect: 100-continue"], content_length=rng.choice([10, 2_000_000])), \
        rng.choice(["close", "shut"])


def http10(ctx, rng):
    return rng.choice([b"GET /healthz HTTP/1.0\r\n\r\n",
                       b"GET /2015-03-31/functions HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"]), \
        "shut"


CASES = [random_bytes, random_request_line, bad_request_lines, long_uri, huge_header,
         many_headers, malformed_headers, truncated_body, bad_content_length, bad_chunked,
         bad_json_create, bad_json_update, bad_json_invoke, weird_paths, no_or_bad_auth,
         pipelined_garbage, expect_continue_abandoned, http10]


def fire(port, data, mode, stats, case_name):
    """One connection: send, then close early, reset, or half-close and read the head."""
    try:
        s = socket.create_connection(("127.0.0.1", port), timeout=SOCKET_TIMEOUT_S)
    except OSError as e:
        stats.record(case_name, f"connect-error:{type(e).__name__}")
        return
    try:
        s.settimeout(SOCKET_TIMEOUT_S)
        if mode == "rst":
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        try:
            s.sendall(data)
        except OSError:
            stats.record(case_name, "closed-while-sending")
            return
        if mode in ("close", "rst"):
            stats.record(case_name, mode)
            return
        try:
            s.shutdown(socket.SHUT_WR)
        except OSError:
            pass
        head, deadline = b"", time.monotonic() + READ_BUDGET_S
        while b"\r\n\r\n" not in head and time.monotonic() < deadline:
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                break
            except OSError:
                break
            if not chunk:
                break
            head += chunk
        status = "no-response"
        if head.startswith(b"HTTP/1."):
            try:
                status = int(head.split(b" ", 2)[1])
            except (IndexError, ValueError):
                status = "garbled"
        stats.record(case_name, status)
    finally:
        s.close()


class Stats:
    def __init__(self):
        self.lock = threading.Lock()
        self.by_case = {}
        self.done = 0

    def record(self, case, outcome):
        with self.lock:
            self.done += 1
            counts = self.by_case.setdefault(case, {})
            counts[outcome] = counts.get(outcome, 0) + 1


def fd_count(pid):
    try:
        return len(os.listdir(f"/proc/{pid}/fd"))
    except OSError:
        return -1


def test_flood_of_malformed_requests(server, lam, http, make_function):
    fn = make_function("python3.11", handler="app.echo")
    r = lam.invoke(FunctionName=fn.name, Payload=b'{"before": 1}')
    assert h.payload_json(r) == {"before": 1}
    fds_before = fd_count(server.pid)
    ctx = Ctx(server, fn.name)
    stats = Stats()
    start = time.monotonic()
    deadline = start + BUDGET_S

    def worker(index):
        rng = random.Random(1000 + index)
        for i in range(index, TOTAL, THREADS):
            if time.monotonic() > deadline:
                return
            case = CASES[i % len(CASES)]
            try:
                data, mode = case(ctx, rng)
                fire(server.port, data, mode, stats, case.__name__)
            except Exception as e:  # a bug in this test: count it, keep going
                stats.record(case.__name__, f"test-error:{e!r}")

    threads = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=BUDGET_S + 30)
    elapsed = time.monotonic() - start
    summary = json.dumps({case: {str(k): v for k, v in counts.items()}
                          for case, counts in stats.by_case.items()}, indent=1, sort_keys=True)

    print(f"\n{stats.done} requests in {elapsed:.1f} s:\n{summary}")
    assert server.alive(), f"nimbus died during the flood (exit {server.proc.returncode})\n{summary}"
    assert stats.done == TOTAL, \
        f"only {stats.done} of {TOTAL} requests done in {elapsed:.1f} s\n{summary}"

    # Nothing malformed may crash a handler into a 500.
    server_errors = {case: {k: v for k, v in counts.items()
                            if isinstance(k, int) and k >= 500 and k != 503}
                     for case, counts in stats.by_case.items()}
    server_errors = {k: v for k, v in server_errors.items() if v}
    assert not server_errors, f"5xx answers to malformed requests: {server_errors}\n{summary}"
    # Well-formed HTTP with bad JSON must get a clean 4xx, never silence.
    for case in ("bad_json_create", "bad_json_invoke", "bad_json_update", "no_or_bad_auth"):
        counts = stats.by_case.get(case, {})
        assert counts and all(isinstance(k, int) and 400 <= k < 500 for k in counts), \
            f"{case}: {counts}"

    # Still healthy and still working.
    assert http.get("/healthz", timeout=5).status_code == 200
    r = lam.invoke(FunctionName=fn.name, Payload=b'{"after": 1}')
    assert "FunctionError" not in r
    assert h.payload_json(r) == {"after": 1}
    names = [f["FunctionName"] for f in lam.list_functions(MaxItems=50)["Functions"]]
    assert not [n for n in names if n.startswith("robust-")], names

    # Connections are released (no fd leak): back near the baseline soon.
    if fds_before > 0:
        h.wait_until(lambda: fd_count(server.pid) <= fds_before + 32, 20,
                     f"server fds to drop back near {fds_before} "
                     f"(now {fd_count(server.pid)})", interval=0.2)
