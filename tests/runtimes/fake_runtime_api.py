"""A fake Lambda Runtime API (2018-06-01) for unit-testing the runtime bootstraps
without nimbus.

It queues events given by the test, serves them to GET /runtime/invocation/next
(a long poll: blocks until an event is queued) and records what the runtime
posts to .../response, .../error and /runtime/init/error.

    api = FakeRuntimeAPI().start()
    rid = api.add_event({"name": "x"}, timeout_s=3)
    ... run a bootstrap with AWS_LAMBDA_RUNTIME_API=api.address ...
    kind, body, headers = api.wait_result(rid)     # kind: "response" | "error"
    api.stop()

Also usable by hand: `python3 fake_runtime_api.py --event '{"a":1}'` prints the
address to use and every recorded post as a JSON line.
"""

import json
import queue
import select
import socket
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PREFIX = "/2018-06-01/runtime"


class Recorded(object):
    def __init__(self, kind, request_id, body, headers):
        self.kind = kind  # "response" | "error" | "init_error"
        self.request_id = request_id
        self.body = body
        self.headers = headers  # lower-cased names
        self.time = time.time()

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def __iter__(self):  # kind, body, headers = recorded
        return iter((self.kind, self.body, self.headers))

    def __repr__(self):
        return "Recorded(%s, %s, %r)" % (self.kind, self.request_id, self.body[:300])


class FakeRuntimeAPI(object):
    def __init__(self, host="127.0.0.1", port=0, max_response_bytes=6 * 1024 * 1024):
        self.host = host
        self.port = port
        self.max_response_bytes = max_response_bytes
        self._events = queue.Queue()
        self._cond = threading.Condition()
        self._stopping = False
        self.issued = {}  # request id -> event dict, once handed out
        self.results = {}  # request id -> Recorded
        self.init_errors = []  # [Recorded]
        self.posts = []  # every Recorded, in order
        self.next_calls = 0
        self.client_ports = []  # source port of each /next request (keep-alive check)
        self.request_log = []  # (method, path, headers)
        self._server = None
        self._thread = None

    # -- lifecycle ------------------------------------------------------------

    def start(self):
        api = self

        class Handler(_Handler):
            fake = api

        self._server = _Server((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        daemon=True)
        self._thread.start()
        return self

    def stop(self):
        self._stopping = True
        with self._cond:
            self._cond.notify_all()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    @property
    def address(self):
        return "%s:%d" % (self.host, self.port)

    # -- test side ------------------------------------------------------------

    def add_event(self, payload=None, request_id=None, timeout_s=3.0, arn=None, trace_id=None,
                  client_context=None, cognito_identity=None, raw=None):
        """Queue one event. payload is JSON-encoded unless raw (bytes) is given.
        Returns the request id."""
        request_id = request_id or str(uuid.uuid4())
        body = raw if raw is not None else json.dumps(payload if payload is not None else {}).encode()
        self._events.put({
            "id": request_id,
            "body": body,
            "timeout_s": timeout_s,
            "arn": arn or "arn:aws:lambda:us-east-1:123456789012:function:test-fn",
            "trace_id": trace_id,
            "client_context": client_context,
            "cognito_identity": cognito_identity,
        })
        return request_id

    def wait_result(self, request_id, timeout=10.0):
        """Wait for the response or error posted for request_id."""
        deadline = time.time() + timeout
        with self._cond:
            while request_id not in self.results:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no result for %s within %.1fs" % (request_id, timeout))
                self._cond.wait(left)
            return self.results[request_id]

    def wait_init_error(self, timeout=10.0):
        deadline = time.time() + timeout
        with self._cond:
            while not self.init_errors:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("no init error within %.1fs" % timeout)
                self._cond.wait(left)
            return self.init_errors[0]

    def wait_next_calls(self, n, timeout=10.0):
        """Wait until the runtime has asked for its n-th event."""
        deadline = time.time() + timeout
        with self._cond:
            while self.next_calls < n:
                left = deadline - time.time()
                if left <= 0:
                    raise TimeoutError("only %d /next calls within %.1fs" % (self.next_calls, timeout))
                self._cond.wait(left)

    # -- server side ----------------------------------------------------------

    def _take_event(self, conn=None):
        """Next queued event; None when stopping or when the runtime hung up
        while waiting (a killed runtime must not swallow the next event)."""
        while not self._stopping:
            try:
                return self._events.get(timeout=0.1)
            except queue.Empty:
                if conn is not None and _peer_closed(conn):
                    return None
        return None

    def _record(self, rec):
        with self._cond:
            self.posts.append(rec)
            if rec.kind == "init_error":
                self.init_errors.append(rec)
            else:
                self.results[rec.request_id] = rec
            self._cond.notify_all()


def _peer_closed(conn):
    try:
        readable, _, _ = select.select([conn], [], [], 0)
        if not readable:
            return False
        return conn.recv(1, socket.MSG_PEEK) == b""
    except (OSError, ValueError):
        return True


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        import sys

        if isinstance(sys.exc_info()[1], (ConnectionError, OSError)):
            return  # the runtime under test was killed mid-request: expected
        ThreadingHTTPServer.handle_error(self, request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive; also answers Expect: 100-continue
    fake = None  # set by FakeRuntimeAPI.start

    def log_message(self, fmt, *args):  # quiet
        pass

    def _send(self, status, obj=None, headers=()):
        body = json.dumps(obj if obj is not None else {}).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def _read_body(self):
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def do_GET(self):
        fake = self.fake
        fake.request_log.append(("GET", self.path, dict(self.headers)))
        if self.path != PREFIX + "/invocation/next":
            return self._send(404, {"errorMessage": "not found", "errorType": "NotFound"})
        with fake._cond:
            fake.next_calls += 1
            fake.client_ports.append(self.client_address[1])
            fake._cond.notify_all()
        ev = fake._take_event(self.connection)
        if ev is None:  # stopping, or the runtime went away
            return self._send(500, {"errorMessage": "shutting down", "errorType": "ServiceException"},
                              (("Connection", "close"),))
        deadline_ms = int((time.time() + ev["timeout_s"]) * 1000)
        fake.issued[ev["id"]] = ev
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Lambda-Runtime-Aws-Request-Id", ev["id"])
        self.send_header("Lambda-Runtime-Deadline-Ms", str(deadline_ms))
        self.send_header("Lambda-Runtime-Invoked-Function-Arn", ev["arn"])
        if ev["trace_id"]:
            self.send_header("Lambda-Runtime-Trace-Id", ev["trace_id"])
        if ev["client_context"] is not None:
            self.send_header("Lambda-Runtime-Client-Context", json.dumps(ev["client_context"]))
        if ev["cognito_identity"] is not None:
            self.send_header("Lambda-Runtime-Cognito-Identity", json.dumps(ev["cognito_identity"]))
        self.send_header("Content-Length", str(len(ev["body"])))
        self.end_headers()
        self.wfile.write(ev["body"])

    def do_POST(self):
        fake = self.fake
        body = self._read_body()
        headers = {k.lower(): v for k, v in self.headers.items()}
        fake.request_log.append(("POST", self.path, headers))
        if self.path == PREFIX + "/init/error":
            fake._record(Recorded("init_error", None, body, headers))
            return self._send(202, {"status": "OK"})
        parts = self.path.split("/")
        # ['', '2018-06-01', 'runtime', 'invocation', '<id>', 'response'|'error']
        if (len(parts) == 6 and self.path.startswith(PREFIX + "/invocation/")
                and parts[5] in ("response", "error")):
            request_id, kind = parts[4], parts[5]
            if request_id not in fake.issued or request_id in fake.results:
                return self._send(400, {"errorMessage": "Invalid request ID", "errorType": "InvalidRequestID"})
            if kind == "response" and len(body) > fake.max_response_bytes:
                return self._send(413, {"errorMessage": "Exceeded maximum allowed payload size",
                                        "errorType": "RequestEntityTooLarge"})
            fake._record(Recorded(kind, request_id, body, headers))
            return self._send(202, {"status": "OK"})
        return self._send(404, {"errorMessage": "not found", "errorType": "NotFound"})


def main():
    import argparse

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--port", type=int, default=0)
    ap.add_argument("--event", action="append", default=[], help="JSON event to queue (repeatable)")
    ap.add_argument("--timeout", type=float, default=3.0, help="function timeout in seconds")
    args = ap.parse_args()
    api = FakeRuntimeAPI(port=args.port).start()
    for ev in args.event:
        api.add_event(raw=ev.encode(), timeout_s=args.timeout)
    print("AWS_LAMBDA_RUNTIME_API=%s" % api.address, flush=True)
    seen = 0
    try:
        while True:
            time.sleep(0.1)
            while seen < len(api.posts):
                rec = api.posts[seen]
                seen += 1
                print(json.dumps({"kind": rec.kind, "requestId": rec.request_id,
                                  "errorType": rec.headers.get("lambda-runtime-function-error-type"),
                                  "body": rec.body.decode("utf-8", "replace")}), flush=True)
    except KeyboardInterrupt:
        pass
    finally:
        api.stop()


if __name__ == "__main__":
    main()
