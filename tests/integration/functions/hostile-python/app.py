"""Hostile test function for the sandbox battery (python3.11 runtime).

`app.main` dispatches on event["action"]; every action tries something a sandboxed
function must not be able to do and reports what happened instead of raising, so the
tests can tell "refused" from "crashed". Errors are reported as errno names
(e.g. "ENOENT"); None means the operation succeeded.
"""
import ctypes
import errno
import os
import socket
import time
import uuid

_INSTANCE = uuid.uuid4().hex
_LIBC = ctypes.CDLL(None, use_errno=True)
_LIBC.syscall.restype = ctypes.c_long


def _errname(e):
    code = e.errno if isinstance(e, OSError) else int(e)
    return errno.errorcode.get(code, str(code))


def _read(path, limit=1 << 16):
    """(errno name or None, first bytes as text)."""
    try:
        with open(path, "rb") as f:
            return None, f.read(limit).decode("utf-8", errors="replace")
    except OSError as e:
        return _errname(e), None


def _listdir(path):
    try:
        return None, sorted(os.listdir(path))
    except OSError as e:
        return _errname(e), None


# ------------------------------------------------------------------ file system

def read_paths(event, context):
    """Reads and lists each path: {path: {"read": errno, "content", "list": errno, "entries",
    "stat": errno}}."""
    out = {}
    for path in event.get("paths", []):
        r_err, content = _read(path)
        l_err, entries = _listdir(path)
        try:
            os.stat(path)
            s_err = None
        except OSError as e:
            s_err = _errname(e)
        out[path] = {"read": r_err, "content": content, "list": l_err,
                     "entries": entries[:50] if entries else entries, "stat": s_err}
    return out


def write_paths(event, context):
    """Tries to create a file in (and to create a folder in) each folder."""
    out = {}
    for folder in event.get("paths", []):
        res = {}
        try:
            with open(os.path.join(folder, "hostile-%s" % _INSTANCE), "w") as f:
                f.write("x")
            res["create"] = None
        except OSError as e:
            res["create"] = _errname(e)
        try:
            os.mkdir(os.path.join(folder, "hostile-dir-%s" % _INSTANCE))
            res["mkdir"] = None
        except OSError as e:
            res["mkdir"] = _errname(e)
        out[folder] = res
    # Overwrite an existing file of the package itself.
    try:
        with open(os.path.join(os.environ.get("LAMBDA_TASK_ROOT", "/var/task"), "app.py"),
                  "a") as f:
            f.write("# tampered\n")
        out["append_app_py"] = None
    except OSError as e:
        out["append_app_py"] = _errname(e)
    return out


def fill_tmp(event, context):
    """Writes `chunk_mb` chunks to /tmp until the file system says no."""
    chunk = b"\xa5" * (int(event.get("chunk_mb", 8)) << 20)
    path = "/tmp/fill-%s" % _INSTANCE
    written = 0
    err = None
    deadline = time.monotonic() + float(event.get("max_seconds", 20))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        while time.monotonic() < deadline:
            try:
                n = os.write(fd, chunk)
            except OSError as e:
                err = _errname(e)
                break
            written += n
            if n < len(chunk):  # a short write: the next one says why
                continue
        else:
            err = "deadline"
        try:
            os.fsync(fd)
            sync_err = None
        except OSError as e:
            sync_err = _errname(e)
    finally:
        os.close(fd)
    st = os.statvfs("/tmp")
    result = {"written": written, "errno": err, "fsync": sync_err,
              "tmp_size": st.f_blocks * st.f_frsize, "tmp_free": st.f_bavail * st.f_frsize}
    if event.get("cleanup", True):
        os.unlink(path)
    return result


def tmp_secret(event, context):
    """mode=write: writes a secret to /tmp/secret; mode=read: reports what /tmp holds."""
    path = event.get("path", "/tmp/secret")
    mode = event.get("mode", "read")
    res = {"instance": _INSTANCE}
    if mode == "write":
        with open(path, "w") as f:
            f.write(event["secret"])
        res["wrote"] = path
    if event.get("sleep"):
        time.sleep(float(event["sleep"]))
    err, content = _read(path)
    res["read"] = err
    res["content"] = content
    res["listing"] = _listdir("/tmp")[1]
    return res


# ------------------------------------------------------------------ processes

def procs(event, context):
    """Every process visible in /proc: pid, comm, cmdline, uid."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        _, comm = _read("/proc/%s/comm" % entry)
        _, cmdline = _read("/proc/%s/cmdline" % entry)
        _, status = _read("/proc/%s/status" % entry)
        uid = None
        for line in (status or "").splitlines():
            if line.startswith("Uid:"):
                uid = line.split()[1]
        found.append({"pid": int(entry), "comm": (comm or "").strip(),
                      "cmdline": (cmdline or "").replace("\0", " ").strip(), "uid": uid})
    return {"self": os.getpid(), "ppid": os.getppid(), "procs": sorted(found, key=lambda p: p["pid"])}


def environ_scan(event, context):
    """Every environ this process can read under /proc, and its own."""
    seen = {}
    errors = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        err, content = _read("/proc/%s/environ" % entry, limit=1 << 20)
        if err:
            errors[entry] = err
        else:
            seen[entry] = content
    # The parent's environment might differ from the runtime's own (e.g. nimbus-init).
    return {"own": dict(os.environ), "proc_environ": seen, "errors": errors}


def identity(event, context):
    _, status = _read("/proc/self/status")
    caps = {}
    for line in (status or "").splitlines():
        if line.startswith("Cap") or line.startswith("NoNewPrivs") or line.startswith("Seccomp"):
            k, v = line.split(":", 1)
            caps[k] = v.strip()
    res = {"uid": os.getuid(), "euid": os.geteuid(), "gid": os.getgid(),
           "egid": os.getegid(), "groups": os.getgroups(), "status": caps}
    try:
        os.setuid(0)
        res["setuid0"] = None
    except OSError as e:
        res["setuid0"] = _errname(e)
    _, res["uid_map"] = _read("/proc/self/uid_map")
    return res


def alloc(event, context):
    """Allocates and touches `mb` MB (bytes * n writes every page)."""
    blocks = []
    step = int(event.get("step_mb", 16))
    for _ in range(0, int(event["mb"]), step):
        blocks.append(b"\x5a" * (step << 20))
    return {"allocated_mb": len(blocks) * step}


def fork_bomb(event, context):
    """Forks until refused; the children sleep (they never return to the runtime)."""
    limit = time.monotonic() + float(event.get("max_seconds", 10))
    children = 0
    err = None
    while time.monotonic() < limit:
        try:
            pid = os.fork()
        except OSError as e:
            err = _errname(e)
            break
        if pid == 0:
            try:
                # A true bomb: every child forks again once before sleeping.
                try:
                    os.fork()
                except OSError:
                    pass
                time.sleep(3600)
            finally:
                os._exit(0)
        children += 1
    else:
        err = "deadline"
    return {"children": children, "errno": err, "visible": len([p for p in os.listdir("/proc")
                                                                 if p.isdigit()])}


def busy(event, context):
    x = 0
    while True:
        x += 1


def burn(event, context):
    """Burns CPU for `seconds` of wall clock; returns the CPU time this process got."""
    wall = float(event.get("seconds", 1.5))
    t0 = time.monotonic()
    c0 = time.process_time()
    x = 0
    while time.monotonic() - t0 < wall:
        for _ in range(20000):
            x += 1
    return {"cpu": time.process_time() - c0, "wall": time.monotonic() - t0}


# ------------------------------------------------------------------ system calls

CLONE_NEWNS = 0x00020000
CLONE_NEWUSER = 0x10000000
CLONE_NEWNET = 0x40000000
CLONE_NEWPID = 0x20000000
SYS_CLONE3 = 435  # x86_64
SYS_PIVOT_ROOT = 155
SYS_BPF = 321
SYS_PERF_EVENT_OPEN = 298
SYS_KEYCTL = 250
SYS_ADD_KEY = 248
SYS_USERFAULTFD = 323
SYS_IO_URING_SETUP = 425
SYS_KEXEC_LOAD = 246
SYS_INIT_MODULE = 175
SYS_FINIT_MODULE = 313
SYS_DELETE_MODULE = 176
SYS_SWAPON = 167
SYS_SWAPOFF = 168
SYS_REBOOT = 169
SYS_OPEN_BY_HANDLE_AT = 304
SYS_UMOUNT2 = 166


def _call(fn, *args):
    ctypes.set_errno(0)
    rc = fn(*args)
    if rc == -1:
        return errno.errorcode.get(ctypes.get_errno(), str(ctypes.get_errno()))
    return "ok:%d" % rc


def syscalls(event, context):
    libc = _LIBC
    sc = libc.syscall
    os.makedirs("/tmp/mnt-target", exist_ok=True)
    res = {}
    res["ptrace_traceme"] = _call(libc.ptrace, ctypes.c_long(0), ctypes.c_long(0),
                                  ctypes.c_void_p(0), ctypes.c_void_p(0))
    res["ptrace_attach_1"] = _call(libc.ptrace, ctypes.c_long(16), ctypes.c_long(1),
                                   ctypes.c_void_p(0), ctypes.c_void_p(0))
    res["mount_tmpfs"] = _call(libc.mount, b"none", b"/tmp/mnt-target", b"tmpfs",
                               ctypes.c_ulong(0), None)
    res["mount_bind"] = _call(libc.mount, b"/var/task", b"/tmp/mnt-target", None,
                              ctypes.c_ulong(0x1000), None)  # MS_BIND
    res["umount_tmp"] = _call(sc, ctypes.c_long(SYS_UMOUNT2), b"/tmp", ctypes.c_long(2))
    res["unshare_newns"] = _call(libc.unshare, ctypes.c_int(CLONE_NEWNS))
    res["unshare_newuser"] = _call(libc.unshare, ctypes.c_int(CLONE_NEWUSER))
    res["unshare_newnet"] = _call(libc.unshare, ctypes.c_int(CLONE_NEWNET))
    for ns in ("mnt", "net", "user", "pid"):
        try:
            fd = os.open("/proc/1/ns/" + ns, os.O_RDONLY)
        except OSError as e:
            res["setns_" + ns] = "open:" + _errname(e)
            continue
        try:
            res["setns_" + ns] = _call(libc.setns, ctypes.c_int(fd), ctypes.c_int(0))
        finally:
            os.close(fd)
    # clone3 with a NULL argument would be EFAULT if the kernel looked at it: ENOSYS shows the
    # filter answered first.
    res["clone3"] = _call(sc, ctypes.c_long(SYS_CLONE3), ctypes.c_void_p(0), ctypes.c_long(88))
    res["pivot_root"] = _call(sc, ctypes.c_long(SYS_PIVOT_ROOT), b"/tmp", b"/tmp/mnt-target")
    res["bpf"] = _call(sc, ctypes.c_long(SYS_BPF), ctypes.c_long(0), ctypes.c_void_p(0),
                       ctypes.c_long(0))
    res["perf_event_open"] = _call(sc, ctypes.c_long(SYS_PERF_EVENT_OPEN), ctypes.c_void_p(0),
                                   ctypes.c_long(0), ctypes.c_long(-1), ctypes.c_long(-1),
                                   ctypes.c_long(0))
    res["keyctl"] = _call(sc, ctypes.c_long(SYS_KEYCTL), ctypes.c_long(0), ctypes.c_long(-3),
                          ctypes.c_long(0))
    res["add_key"] = _call(sc, ctypes.c_long(SYS_ADD_KEY), b"user", b"k", b"v", ctypes.c_long(1),
                           ctypes.c_long(-3))
    res["userfaultfd"] = _call(sc, ctypes.c_long(SYS_USERFAULTFD), ctypes.c_long(0))
    res["io_uring_setup"] = _call(sc, ctypes.c_long(SYS_IO_URING_SETUP), ctypes.c_long(1),
                                  ctypes.c_void_p(0))
    res["kexec_load"] = _call(sc, ctypes.c_long(SYS_KEXEC_LOAD), ctypes.c_long(0),
                              ctypes.c_long(0), ctypes.c_void_p(0), ctypes.c_long(0))
    res["init_module"] = _call(sc, ctypes.c_long(SYS_INIT_MODULE), ctypes.c_void_p(0),
                               ctypes.c_long(0), b"")
    res["finit_module"] = _call(sc, ctypes.c_long(SYS_FINIT_MODULE), ctypes.c_long(-1), b"",
                                ctypes.c_long(0))
    res["delete_module"] = _call(sc, ctypes.c_long(SYS_DELETE_MODULE), b"loop", ctypes.c_long(0))
    res["swapon"] = _call(sc, ctypes.c_long(SYS_SWAPON), b"/tmp/none", ctypes.c_long(0))
    res["swapoff"] = _call(sc, ctypes.c_long(SYS_SWAPOFF), b"/tmp/none")
    # reboot with a wrong magic is EINVAL when allowed (never reboots anything).
    res["reboot"] = _call(sc, ctypes.c_long(SYS_REBOOT), ctypes.c_long(0), ctypes.c_long(0),
                          ctypes.c_long(0), ctypes.c_void_p(0))
    res["open_by_handle_at"] = _call(sc, ctypes.c_long(SYS_OPEN_BY_HANDLE_AT), ctypes.c_long(-1),
                                     ctypes.c_void_p(0), ctypes.c_long(0))
    # Threads must still work (they go through clone, not clone3, after the ENOSYS).
    import threading
    box = []
    t = threading.Thread(target=lambda: box.append(threading.get_native_id()))
    t.start()
    t.join(5)
    res["thread_ok"] = bool(box)
    # A forked child still works too.
    try:
        pid = os.fork()
        if pid == 0:
            os._exit(7)
        _, status = os.waitpid(pid, 0)
        res["fork_exit"] = os.waitstatus_to_exitcode(status)
    except OSError as e:
        res["fork_exit"] = _errname(e)
    return res


# ------------------------------------------------------------------ network

def connect(event, context):
    """Tries TCP (and, with "unix", abstract unix) connections; never sends anything."""
    out = {}
    timeout = float(event.get("timeout", 2))
    for target in event.get("targets", []):
        host, port = target.rsplit(":", 1)
        t0 = time.monotonic()
        s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect((host.strip("[]"), int(port)))
            res = None
        except socket.timeout:
            res = "timeout"
        except OSError as e:
            res = _errname(e)
        finally:
            s.close()
        out[target] = {"errno": res, "seconds": round(time.monotonic() - t0, 3)}
    for name in event.get("abstract", []):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(timeout)
        try:
            s.connect("\0" + name)
            res = None
        except OSError as e:
            res = _errname(e)
        finally:
            s.close()
        out["@" + name] = {"errno": res}
    for target in event.get("udp", []):
        host, port = target.rsplit(":", 1)
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            s.sendto(b"\0" * 12, (host, int(port)))
            res = None
        except OSError as e:
            res = _errname(e)
        finally:
            s.close()
        out["udp:" + target] = {"errno": res}
    try:
        out["interfaces"] = sorted(n for _, n in socket.if_nameindex())
    except OSError as e:
        out["interfaces"] = _errname(e)
    out["runtime_api"] = os.environ.get("AWS_LAMBDA_RUNTIME_API")
    return out


def tty(event, context):
    """Looks for a terminal to inject keystrokes into (TIOCSTI)."""
    import fcntl
    import termios
    res = {}
    try:
        fd = os.open("/dev/tty", os.O_RDWR)
        os.close(fd)
        res["open_dev_tty"] = None
    except OSError as e:
        res["open_dev_tty"] = _errname(e)
    for fd in (0, 1, 2):
        try:
            fcntl.ioctl(fd, termios.TIOCSTI, b"x")
            res["tiocsti_%d" % fd] = None
        except OSError as e:
            res["tiocsti_%d" % fd] = _errname(e)
    res["sid"] = os.getsid(0)
    res["pid"] = os.getpid()
    return res


def conn_flood(event, context):
    """Opens up to `per_proc` idle connections to the Runtime API from each of `procs`
    processes (the handler's own and forked children), which keep them open for
    `hold` seconds. Returns how many connected in all."""
    host, port = os.environ["AWS_LAMBDA_RUNTIME_API"].rsplit(":", 1)
    procs = int(event.get("procs", 1))
    per_proc = int(event.get("per_proc", 100))
    hold = float(event.get("hold", 10))
    pipes = []
    for _ in range(procs):
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            try:
                os.close(r)
                held = []
                for _ in range(per_proc):
                    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                    s.settimeout(2)
                    try:
                        s.connect((host, int(port)))
                    except OSError:
                        s.close()
                        break
                    held.append(s)
                os.write(w, b"%d\n" % len(held))
                os.close(w)
                time.sleep(hold)
            finally:
                os._exit(0)
        os.close(w)
        pipes.append(r)
    total = 0
    for r in pipes:
        data = b""
        while not data.endswith(b"\n"):
            chunk = os.read(r, 64)
            if not chunk:
                break
            data += chunk
        os.close(r)
        total += int(data or b"0")
    return {"connected": total}


def kill_all(event, context):
    """kill(-1, SIGKILL): everything this process may signal, except itself."""
    try:
        os.kill(-1, 9)
        return {"kill": None}
    except OSError as e:
        return {"kill": _errname(e)}


ACTIONS = {
    "read": read_paths,
    "write": write_paths,
    "fill_tmp": fill_tmp,
    "tmp_secret": tmp_secret,
    "procs": procs,
    "environ": environ_scan,
    "identity": identity,
    "alloc": alloc,
    "fork_bomb": fork_bomb,
    "busy": busy,
    "burn": burn,
    "syscalls": syscalls,
    "connect": connect,
    "kill_all": kill_all,
    "tty": tty,
    "conn_flood": conn_flood,
}


def main(event, context):
    res = ACTIONS[event["action"]](event, context)
    if isinstance(res, dict):
        res.setdefault("instance", _INSTANCE)
    return res
