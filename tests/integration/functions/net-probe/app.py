"""A function that probes its network, for test_sandbox_network.py.

Actions (event["action"]):
  connect  -> {"results": [...]}: for each [host, port] in event["targets"], "ok:<first
              line the peer sent>" or the errno name of the failure (ETIMEDOUT when the
              connect did not finish within event["timeout"] seconds)
  listen   -> starts (once per instance) a TCP listener on 0.0.0.0:event["port"] that
              answers "instance" to whoever connects; returns {"address": ...}
  address  -> {"address": the instance's source address towards event["towards"], or the
              errno name when there is no route}
"""
import errno
import os
import socket
import threading

_listener = None


def _errname(e):
    if isinstance(e, socket.timeout):
        return "ETIMEDOUT"
    if getattr(e, "errno", None):
        return errno.errorcode.get(e.errno, str(e.errno))
    return type(e).__name__


def _connect(host, port, timeout):
    try:
        with socket.create_connection((host, port), timeout=timeout) as s:
            s.settimeout(timeout)
            data = s.recv(200)
            return "ok:" + data.decode(errors="replace").strip()
    except OSError as e:
        return _errname(e)


def _address(towards):
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect((towards, 9))  # no packet is sent: this only picks a route
            return s.getsockname()[0]
    except OSError as e:
        return _errname(e)


def _serve(sock):
    while True:
        try:
            conn, _ = sock.accept()
        except OSError:
            return
        with conn:
            try:
                conn.sendall(b"instance\n")
            except OSError:
                pass


def main(event, context):
    action = event.get("action")
    if action == "connect":
        timeout = float(event.get("timeout", 1.5))
        return {"results": [_connect(h, int(p), timeout) for h, p in event["targets"]],
                "pid": os.getpid()}
    if action == "listen":
        global _listener
        if _listener is None:
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("0.0.0.0", int(event["port"])))
            sock.listen(16)
            _listener = threading.Thread(target=_serve, args=(sock,), daemon=True)
            _listener.start()
        return {"address": _address(event["towards"]), "pid": os.getpid()}
    if action == "address":
        return {"address": _address(event["towards"]), "pid": os.getpid()}
    return {"error": f"unknown action {action!r}"}
