"""nimbus runtime interface client for Python (Lambda Runtime API 2018-06-01).

Behaves like AWS's awslambdaric: imports the handler named by _HANDLER
(`module.function`, module may be `pkg.mod` or `pkg/mod`), reports import
problems to /runtime/init/error, then loops on /runtime/invocation/next and
posts each result to .../response or each exception to .../error.

Start-up cost matters (every cold start pays it), so only modules that are
already loaded or built in are imported eagerly: no http.client (it pulls in
the email package, ≈10 ms here), no asyncio, no logging, and not even the
`json` and `socket` packages (they import re/enum/selectors, ≈8 ms of a ≈20 ms
start): their C cores `_json` and `_socket` are used directly, with the same
results as json.loads/json.dumps. traceback is loaded only to report an error.
The HTTP/1.1 client below is just enough for the Runtime API: keep-alive,
Content-Length and chunked bodies, no read timeout (/next is a long poll).
"""

import os
import sys
import time

try:
    import _json
    import _socket
except ImportError:  # not CPython: fall back to the public modules
    _json = None
    import socket as _socket

API_PREFIX = "/2018-06-01/runtime"
USER_AGENT = "nimbus-python-ric/1.0"

_THIS_FILE = os.path.abspath(__file__)
_current_request_id = None


# ---------------------------------------------------------------- utilities

def _setup_stdio():
    """Unbuffered stdout/stderr (like python -u / awslambdaric's Unbuffered):
    every write reaches the log pipe at once, even without a newline."""
    import io  # already loaded by the interpreter, costs nothing

    for name, fd in (("stdout", 1), ("stderr", 2)):
        try:
            raw = io.FileIO(fd, "w", closefd=False)
            stream = io.TextIOWrapper(raw, encoding="utf-8", errors="backslashreplace",
                                      write_through=True)
        except OSError:
            continue  # fd closed: leave the default object alone
        setattr(sys, name, stream)


def _setup_sys_path():
    """Without site: task root first, then task_root/python, then PYTHONPATH
    entries (already placed by the interpreter), then the standard library.
    The runtime folder itself (sys.path[0]) is removed so user modules cannot
    be shadowed by ours."""
    runtime_dir = os.path.dirname(_THIS_FILE)
    task_root = os.environ.get("LAMBDA_TASK_ROOT") or os.getcwd()
    front = [task_root]
    py_dir = os.path.join(task_root, "python")
    if os.path.isdir(py_dir):
        front.append(py_dir)
    seen = set()
    new_path = []
    for entry in front + sys.path:
        if not entry:
            continue
        key = os.path.abspath(entry)
        if key == runtime_dir or key in seen:
            continue
        seen.add(key)
        new_path.append(entry)
    sys.path[:] = new_path


def _fatal(message):
    try:
        sys.stderr.write("nimbus-python-runtime: fatal: %s\n" % message)
        sys.stderr.flush()
    finally:
        os._exit(1)


def _flush_stdio():
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass


# ---------------------------------------------------------------- JSON

class _DecoderContext(object):
    # The attributes _json.make_scanner reads, as json.JSONDecoder() sets them.
    strict = True
    object_hook = None
    object_pairs_hook = None
    parse_float = float
    parse_int = int
    parse_constant = {"-Infinity": float("-inf"), "Infinity": float("inf"), "NaN": float("nan")}.__getitem__


_JSON_WS = " \t\n\r"

if _json is not None:
    _scan_once = _json.make_scanner(_DecoderContext())

    def json_loads(data):
        """json.loads for str or UTF-8 bytes; raises ValueError on bad input."""
        s = data.decode("utf-8") if isinstance(data, (bytes, bytearray)) else data
        if s.startswith("\ufeff"):
            s = s[1:]
        start = len(s) - len(s.lstrip(_JSON_WS))
        try:
            obj, end = _scan_once(s, start)
        except StopIteration as e:
            raise ValueError("Expecting value: line 1 column %d (char %d)" % (e.value + 1, e.value))
        except SystemError:
            # _json reports most syntax errors through json.decoder.JSONDecodeError
            # and fails like this while json.decoder is not loaded: let the json
            # package produce the proper error.
            import json
            return json.loads(s)
        rest = s[end:].lstrip(_JSON_WS)
        if rest:
            raise ValueError("Extra data: char %d" % (len(s) - len(rest)))
        return obj

    def json_dumps(obj, default=None):
        """json.dumps(obj, default=default) with the default options."""
        if isinstance(obj, str):
            return _json.encode_basestring_ascii(obj)
        encode = _json.make_encoder({}, default, _json.encode_basestring_ascii, None, ": ", ", ",
                                    False, False, True)
        return "".join(encode(obj, 0))
else:
    def json_loads(data):
        import json
        return json.loads(data)

    def json_dumps(obj, default=None):
        import json
        return json.dumps(obj, default=default)


# ---------------------------------------------------------------- HTTP client

class _Reader(object):
    """Buffered reading from a socket (socket.makefile without the io stack)."""

    def __init__(self, sock):
        self.sock = sock
        self.buf = bytearray()

    def _fill(self):
        data = self.sock.recv(65536)
        if data:
            self.buf += data
        return bool(data)

    def readline(self, limit):
        while True:
            i = self.buf.find(b"\n")
            if i >= 0:
                line = bytes(self.buf[:i + 1])
                del self.buf[:i + 1]
                return line
            if len(self.buf) >= limit or not self._fill():
                line = bytes(self.buf)
                self.buf.clear()
                return line

    def read(self, n=-1):
        """n bytes (fewer only at EOF); n < 0: everything up to EOF."""
        if 0 <= n <= len(self.buf):
            data = bytes(self.buf[:n])
            del self.buf[:n]
            return data
        chunks = [bytes(self.buf)]
        self.buf.clear()
        need = n - len(chunks[0]) if n >= 0 else -1
        while need != 0:
            data = self.sock.recv(min(need, 1 << 20) if need > 0 else 1 << 20)
            if not data:
                break
            chunks.append(data)
            if need > 0:
                need -= len(data)
        return b"".join(chunks)

    def close(self):
        self.buf.clear()


def _create_connection(host, port):
    error = None
    for family, socktype, proto, _name, addr in _socket.getaddrinfo(host, port, 0, _socket.SOCK_STREAM):
        sock = _socket.socket(family, socktype, proto)
        try:
            sock.connect(addr)
            return sock
        except OSError as e:
            error = e
            sock.close()
    raise error if error is not None else OSError("getaddrinfo returned no address for %s" % host)


class RuntimeAPIError(Exception):
    pass


class RuntimeClient(object):
    """Minimal HTTP/1.1 keep-alive client for the Runtime API."""

    def __init__(self, address):
        self.address = address
        host, sep, port = address.rpartition(":")
        if not sep or not port.isdigit():
            raise RuntimeAPIError("bad AWS_LAMBDA_RUNTIME_API %r (want host:port)" % address)
        if host.startswith("[") and host.endswith("]"):
            host = host[1:-1]
        self.host = host or "127.0.0.1"
        self.port = int(port)
        self.sock = None
        self.rfile = None

    def close(self):
        if self.rfile is not None:
            try:
                self.rfile.close()
            except OSError:
                pass
        if self.sock is not None:
            try:
                self.sock.close()
            except OSError:
                pass
        self.sock = None
        self.rfile = None

    def _connect(self):
        self.sock = _create_connection(self.host, self.port)
        try:
            self.sock.setsockopt(_socket.IPPROTO_TCP, _socket.TCP_NODELAY, 1)
        except OSError:
            pass
        self.rfile = _Reader(self.sock)

    def request(self, method, path, body=None, headers=()):
        lines = ["%s %s HTTP/1.1\r\nHost: %s\r\nUser-Agent: %s\r\n" % (method, path, self.address, USER_AGENT)]
        for name, value in headers:
            lines.append("%s: %s\r\n" % (name, value))
        if body is not None:
            lines.append("Content-Length: %d\r\n" % len(body))
        lines.append("\r\n")
        data = "".join(lines).encode("latin-1", "replace")
        if body:
            data += body
        # One retry when a kept-alive connection turns out to be closed by the
        # server before any byte of the answer arrived.
        for attempt in (0, 1):
            fresh = self.sock is None
            try:
                if fresh:
                    self._connect()
                self.sock.sendall(data)
                status_line = self.rfile.readline(65537)
                if not status_line:
                    raise ConnectionError("connection closed by the Runtime API")
            except OSError:
                self.close()
                if fresh or attempt:
                    raise
                continue
            return self._read_response(status_line, method)
        raise RuntimeAPIError("unreachable")

    def _read_headers(self):
        headers = {}
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("connection closed in headers")
            if line in (b"\r\n", b"\n"):
                return headers
            name, sep, value = line.decode("latin-1").partition(":")
            if not sep:
                continue
            name = name.strip().lower()
            value = value.strip()
            if name in headers:
                headers[name] += ", " + value
            else:
                headers[name] = value

    def _read_response(self, status_line, method):
        while True:
            parts = status_line.split(None, 2)
            if len(parts) < 2 or not parts[0].startswith(b"HTTP/"):
                self.close()
                raise RuntimeAPIError("bad status line %r" % status_line[:100])
            status = int(parts[1])
            headers = self._read_headers()
            if 100 <= status < 200:  # interim answer (100 Continue): read the real one
                status_line = self.rfile.readline(65537)
                if not status_line:
                    raise ConnectionError("connection closed after interim response")
                continue
            break
        keep = parts[0] != b"HTTP/1.0" and "close" not in headers.get("connection", "").lower()
        if method == "HEAD" or status in (204, 304):
            body = b""
        elif "chunked" in headers.get("transfer-encoding", "").lower():
            body = self._read_chunked()
        elif "content-length" in headers:
            n = int(headers["content-length"])
            body = self.rfile.read(n) if n else b""
            if len(body) != n:
                self.close()
                raise ConnectionError("connection closed in body")
        else:
            body = self.rfile.read()
            keep = False
        if not keep:
            self.close()
        return status, headers, body

    def _read_chunked(self):
        chunks = []
        while True:
            line = self.rfile.readline(65537)
            if not line:
                raise ConnectionError("connection closed in chunked body")
            size = int(line.split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:
                while True:  # trailers
                    line = self.rfile.readline(65537)
                    if not line or line in (b"\r\n", b"\n"):
                        return b"".join(chunks)
            data = self.rfile.read(size)
            if len(data) != size:
                raise ConnectionError("connection closed in chunk")
            chunks.append(data)
            self.rfile.readline(65537)  # CRLF after the chunk

    # -- Runtime API verbs --------------------------------------------------

    def next(self):
        status, headers, body = self.request("GET", API_PREFIX + "/invocation/next")
        if status != 200:
            raise RuntimeAPIError("GET /invocation/next answered %d: %r" % (status, body[:200]))
        if not headers.get("lambda-runtime-aws-request-id"):
            raise RuntimeAPIError("GET /invocation/next answered without Lambda-Runtime-Aws-Request-Id")
        return headers, body

    def post_response(self, request_id, payload):
        return self.request("POST", "%s/invocation/%s/response" % (API_PREFIX, request_id), payload,
                            (("Content-Type", "application/json"),))

    def post_error(self, request_id, error, error_type="Unhandled"):
        return self.request("POST", "%s/invocation/%s/error" % (API_PREFIX, request_id), _error_body(error),
                            (("Content-Type", "application/json"),
                             ("Lambda-Runtime-Function-Error-Type", error_type)))

    def post_init_error(self, error):
        return self.request("POST", API_PREFIX + "/init/error", _error_body(error),
                            (("Content-Type", "application/json"),
                             ("Lambda-Runtime-Function-Error-Type", error.get("errorType") or "Unhandled")))


def _error_body(error):
    return json_dumps(error, repr).encode("utf-8")


# ---------------------------------------------------------------- errors

class FaultException(Exception):
    MARSHAL_ERROR = "Runtime.MarshalError"
    UNMARSHAL_ERROR = "Runtime.UnmarshalError"
    USER_CODE_SYNTAX_ERROR = "Runtime.UserCodeSyntaxError"
    HANDLER_NOT_FOUND = "Runtime.HandlerNotFound"
    IMPORT_MODULE_ERROR = "Runtime.ImportModuleError"
    BUILT_IN_MODULE_CONFLICT = "Runtime.BuiltInModuleConflict"
    MALFORMED_HANDLER_NAME = "Runtime.MalformedHandlerName"

    def __init__(self, exception_type, msg, trace=None):
        Exception.__init__(self, msg)
        self.exception_type = exception_type
        self.msg = msg
        self.trace = trace


def make_error(message, error_type, stack_trace, request_id=None):
    return {
        "errorMessage": message if message else "",
        "errorType": error_type if error_type else "",
        "requestId": request_id if request_id is not None else "",
        "stackTrace": stack_trace if stack_trace else [],
    }


def build_fault_result(exc_info, request_id=None, msg=None):
    """errorType = the exception class name, stackTrace = the formatted frames
    of user code (the runtime's own frames are cut off), like awslambdaric."""
    import traceback

    etype, value, tb = exc_info
    frames = traceback.extract_tb(tb)
    frames = [f for f in frames
              if not f.filename.startswith("<frozen importlib") and os.path.abspath(f.filename) != _THIS_FILE]
    return make_error(msg if msg else str(value), etype.__name__,
                      traceback.format_list(frames), request_id)


def log_error(error):
    lines = ["[ERROR] %s: %s" % (error["errorType"], error["errorMessage"])]
    if error.get("stackTrace"):
        lines.append("Traceback (most recent call last):")
        lines.append("".join(error["stackTrace"]).rstrip("\n"))
    try:
        sys.stderr.write("\n".join(lines) + "\n")
    except Exception:
        pass


# ---------------------------------------------------------------- handler

def load_handler(handler):
    """Import `module.function`; raise FaultException like awslambdaric."""
    try:
        modname, fname = handler.rsplit(".", 1)
    except ValueError as e:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME,
                             "Bad handler '%s': %s" % (handler, e))
    if not modname or not fname:
        raise FaultException(FaultException.MALFORMED_HANDLER_NAME,
                             "Bad handler '%s': empty module or function name" % handler)
    import importlib

    if modname.split(".")[0].split("/")[0] in sys.builtin_module_names:
        raise FaultException(FaultException.BUILT_IN_MODULE_CONFLICT,
                             "Cannot use built-in module %s as a handler module" % modname)
    try:
        module = importlib.import_module(modname.replace("/", "."))
    except ImportError as e:
        raise FaultException(FaultException.IMPORT_MODULE_ERROR,
                             "Unable to import module '%s': %s" % (modname, e))
    except SyntaxError as e:
        trace = ['  File "%s" Line %s\n    %s' % (e.filename, e.lineno, e.text)]
        raise FaultException(FaultException.USER_CODE_SYNTAX_ERROR,
                             "Syntax error in module '%s': %s" % (modname, e), trace)
    try:
        func = getattr(module, fname)
    except AttributeError:
        raise FaultException(FaultException.HANDLER_NOT_FOUND,
                             "Handler '%s' missing on module '%s'" % (fname, modname))
    if not callable(func):
        raise FaultException(FaultException.HANDLER_NOT_FOUND,
                             "Handler '%s' on module '%s' is not callable" % (fname, modname))
    return func


# ---------------------------------------------------------------- context

class _Obj(object):
    __slots__ = ()

    def __repr__(self):
        return "%s(%s)" % (type(self).__name__, ", ".join(
            "%s=%r" % (k, getattr(self, k, None)) for k in self.__slots__))


class CognitoIdentity(_Obj):
    __slots__ = ["cognito_identity_id", "cognito_identity_pool_id"]


class Client(_Obj):
    __slots__ = ["installation_id", "app_title", "app_version_name", "app_version_code", "app_package_name"]


class ClientContext(_Obj):
    __slots__ = ["custom", "env", "client"]


def _obj_from_dict(cls, d):
    if d is None:
        return None
    obj = cls()
    for field in cls.__slots__:
        setattr(obj, field, d.get(field) if isinstance(d, dict) else None)
    return obj


def _parse_json_header(value):
    if not value:
        return None
    try:
        return json_loads(value)
    except ValueError:
        return None


class LambdaContext(object):
    def __init__(self, request_id, client_context, cognito_identity, deadline_ms, invoked_function_arn):
        env = os.environ
        self.aws_request_id = request_id
        self.log_group_name = env.get("AWS_LAMBDA_LOG_GROUP_NAME")
        self.log_stream_name = env.get("AWS_LAMBDA_LOG_STREAM_NAME")
        self.function_name = env.get("AWS_LAMBDA_FUNCTION_NAME")
        self.function_version = env.get("AWS_LAMBDA_FUNCTION_VERSION")
        try:
            self.memory_limit_in_mb = int(env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128"))
        except ValueError:
            self.memory_limit_in_mb = env.get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE")
        self.invoked_function_arn = invoked_function_arn
        self.client_context = _obj_from_dict(ClientContext, client_context)
        if self.client_context is not None:
            self.client_context.client = _obj_from_dict(Client, self.client_context.client)
        self.identity = _obj_from_dict(CognitoIdentity, {})
        if isinstance(cognito_identity, dict):
            self.identity.cognito_identity_id = cognito_identity.get("cognitoIdentityId")
            self.identity.cognito_identity_pool_id = cognito_identity.get("cognitoIdentityPoolId")
        self._deadline_ms = deadline_ms

    def get_remaining_time_in_millis(self):
        delta = self._deadline_ms - int(time.time() * 1000)
        return delta if delta > 0 else 0

    def log(self, msg):
        sys.stdout.write(str(msg))

    def __repr__(self):
        return ("LambdaContext([aws_request_id=%s,log_group_name=%s,log_stream_name=%s,function_name=%s,"
                "memory_limit_in_mb=%s,function_version=%s,invoked_function_arn=%s,client_context=%s,"
                "identity=%s])" % (self.aws_request_id, self.log_group_name, self.log_stream_name,
                                   self.function_name, self.memory_limit_in_mb, self.function_version,
                                   self.invoked_function_arn, self.client_context, self.identity))


# ---------------------------------------------------------------- logging

def _install_logging_handler():
    """If user code uses `logging` and configured nothing, route records to
    stdout in Lambda's format: [LEVEL]\\t<utc time>\\t<request id>\\t<message>.
    Only done when the user imported logging (importing it costs ms)."""
    logging = sys.modules.get("logging")
    if logging is None or logging.getLogger().handlers:
        return

    class LambdaLoggerFilter(logging.Filter):
        def filter(self, record):
            record.aws_request_id = _current_request_id or ""
            return True

    class LambdaLoggerHandler(logging.Handler):
        def emit(self, record):
            try:
                sys.stdout.write(self.format(record))
            except Exception:
                self.handleError(record)

    formatter = logging.Formatter("[%(levelname)s]\t%(asctime)s.%(msecs)03dZ\t%(aws_request_id)s\t%(message)s\n",
                                  "%Y-%m-%dT%H:%M:%S")
    formatter.converter = time.gmtime
    handler = LambdaLoggerHandler()
    handler.setFormatter(formatter)
    handler.addFilter(LambdaLoggerFilter())
    logging.getLogger().addHandler(handler)


# ---------------------------------------------------------------- loop

def _json_default(obj):
    dec = sys.modules.get("decimal")
    if dec is not None and isinstance(obj, dec.Decimal):
        return int(obj) if obj == obj.to_integral_value() else float(obj)
    raise TypeError("Object of type %s is not JSON serializable" % type(obj).__name__)


def _check_post(what, status, body):
    if 200 <= status < 300:
        return True
    if status >= 500:
        _fatal("%s answered %d: %r" % (what, status, body[:200]))
    sys.stderr.write("nimbus-python-runtime: %s answered %d: %r\n" % (what, status, body[:200]))
    return False


def handle_invocation(client, handler, headers, body):
    global _current_request_id
    request_id = headers["lambda-runtime-aws-request-id"]
    _current_request_id = request_id
    trace_id = headers.get("lambda-runtime-trace-id")
    if trace_id:
        os.environ["_X_AMZN_TRACE_ID"] = trace_id
    else:
        os.environ.pop("_X_AMZN_TRACE_ID", None)
    # W3C trace context of this invocation (OpenTelemetry's environment carriers).
    for header, env in (("lambda-runtime-traceparent", "TRACEPARENT"),
                        ("lambda-runtime-tracestate", "TRACESTATE")):
        value = headers.get(header)
        if value:
            os.environ[env] = value
        else:
            os.environ.pop(env, None)

    try:
        event = json_loads(body) if body.strip() else {}
    except ValueError as e:
        error = make_error("Unable to unmarshal input: %s" % e, FaultException.UNMARSHAL_ERROR, None, request_id)
        log_error(error)
        status, _, rbody = client.post_error(request_id, error, FaultException.UNMARSHAL_ERROR)
        _check_post("POST /invocation/error", status, rbody)
        return

    try:
        deadline_ms = int(headers.get("lambda-runtime-deadline-ms") or 0)
    except ValueError:
        deadline_ms = 0
    context = LambdaContext(request_id,
                            _parse_json_header(headers.get("lambda-runtime-client-context")),
                            _parse_json_header(headers.get("lambda-runtime-cognito-identity")),
                            deadline_ms,
                            headers.get("lambda-runtime-invoked-function-arn"))
    # nimbus's own: the invocation's X-Correlation-Id (not in awslambdaric's context).
    context.correlation_id = headers.get("lambda-runtime-correlation-id")

    error = None
    payload = None
    try:
        result = handler(event, context)
    except FaultException as e:
        error = make_error(e.msg, e.exception_type, e.trace, request_id)
    except Exception:
        error = build_fault_result(sys.exc_info(), request_id)
    else:
        try:
            payload = json_dumps(result, _json_default).encode("utf-8")
        except (TypeError, ValueError, OverflowError, RecursionError) as e:
            error = make_error("Unable to marshal response: %s" % e, FaultException.MARSHAL_ERROR, None, request_id)
    _flush_stdio()

    if error is not None:
        log_error(error)
        status, _, rbody = client.post_error(request_id, error, "Unhandled")
        _check_post("POST /invocation/error", status, rbody)
        return

    status, _, rbody = client.post_response(request_id, payload)
    if status == 413:
        error = make_error("Response payload size (%d bytes) exceeded maximum allowed payload size." % len(payload),
                           "Function.ResponseSizeTooLarge", None, request_id)
        log_error(error)
        status, _, rbody = client.post_error(request_id, error, "Function.ResponseSizeTooLarge")
        _check_post("POST /invocation/error", status, rbody)
        return
    _check_post("POST /invocation/response", status, rbody)


def main():
    _setup_stdio()
    _setup_sys_path()

    address = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    if not address:
        _fatal("AWS_LAMBDA_RUNTIME_API is not set")
    try:
        client = RuntimeClient(address)
    except RuntimeAPIError as e:
        _fatal(str(e))

    try:
        handler = load_handler(os.environ.get("_HANDLER", ""))
    except FaultException as e:
        error = make_error(e.msg, e.exception_type, e.trace)
    except Exception:
        # The module raised while being imported: report the exception itself,
        # as awslambdaric does (errorType = its class name).
        error = build_fault_result(sys.exc_info())
    else:
        error = None
    if error is not None:
        log_error(error)
        _flush_stdio()
        try:
            client.post_init_error(error)
        except (OSError, RuntimeAPIError) as e:
            _fatal("POST /init/error failed: %s" % e)
        sys.exit(1)

    _install_logging_handler()

    while True:
        try:
            headers, body = client.next()
        except (OSError, RuntimeAPIError, ValueError) as e:
            _fatal("GET /invocation/next failed: %s" % e)
        try:
            handle_invocation(client, handler, headers, body)
        except (OSError, RuntimeAPIError, ValueError) as e:
            _fatal("posting the invocation result failed: %s" % e)
