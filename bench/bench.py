#!/usr/bin/python3
"""nimbus benchmark driver (run it through bench/run.sh, which builds what it needs).

Starts a baseline HTTP echo server and `nimbus serve` on loopback ports, deploys echo
and sleep functions for provided, python3.11 and nodejs20.x, measures warm latency,
throughput, cold starts, memory per idle instance, scale-out from zero and sustained
invocations per second, and writes JSON lines plus a markdown table. Every figure is
the median of `runs` repeated runs. Only the Python standard library is used.
"""
import argparse
import base64
import datetime
import gzip
import http.client
import http.server
import io
import json
import math
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
RUNTIMES = ["provided", "python3.11", "nodejs20.x"]
BASELINE = "baseline"
TARGETS = [BASELINE] + RUNTIMES
CONCURRENCIES = [1, 16, 64]

PROFILES = {
    # runs: repetitions per figure; wrk_s: one throughput run; sustain_s: the provided
    # c=64 sustained run; cold: cold starts per run; scale: parallel invokes.
    "full": dict(runs=5, wrk_s=3, warmup_s=1, sustain_s=10, cold=20, scale=64,
                 mem_instances=4),
    "quick": dict(runs=3, wrk_s=1, warmup_s=1, sustain_s=3, cold=8, scale=64,
                  mem_instances=4),
}


def log(msg):
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentile(values, p):
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    v = sorted(values)
    k = max(1, math.ceil(p / 100.0 * len(v)))
    return v[k - 1]


def split_cpus(cfg):
    """The first CPU for this driver and the load generator (pinned now), the last for
    the servers; both None with fewer than two CPUs or --no-pin."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) >= 2 and not cfg.no_pin:
        cfg.client_cpu, cfg.server_cpu = cpus[0], cpus[-1]
        os.sched_setaffinity(0, {cfg.client_cpu})
    else:
        cfg.client_cpu = cfg.server_cpu = None


def pin(cpu):
    if cpu is None:
        return None
    return lambda: os.sched_setaffinity(0, {cpu})


# --------------------------------------------------------------------------- results


class Results:
    """Collects figures; prints and appends each as one JSON line as it is made."""

    def __init__(self, out_dir, runs):
        self.out_dir = out_dir
        self.runs = runs
        self.figures = {}  # (bench, runtime, metric) -> record
        self.findings = []
        self.jsonl = open(os.path.join(out_dir, "results.jsonl"), "w")
        self.raw = open(os.path.join(out_dir, "raw.jsonl"), "w")

    def raw_record(self, **kw):
        self.raw.write(json.dumps(kw) + "\n")
        self.raw.flush()

    def add(self, bench, runtime, metric, samples, unit, baseline_of=None, **extra):
        """baseline_of: (bench, metric) of the baseline figure to compare with, when it
        is not the same (bench, metric)."""
        samples = [s for s in samples if s is not None]
        value = round(statistics.median(samples), 3) if samples else None
        base = None
        if runtime != BASELINE:
            b_bench, b_metric = baseline_of or (bench, metric)
            b = self.figures.get((b_bench, BASELINE, b_metric))
            base = b["value"] if b else None
        rec = {"bench": bench, "runtime": runtime, "metric": metric, "value": value,
               "unit": unit, "runs": len(samples), "baseline": base,
               "samples": [round(s, 3) for s in samples]}
        rec.update(extra)
        self.figures[(bench, runtime, metric)] = rec
        line = json.dumps(rec)
        print(line, flush=True)
        self.jsonl.write(line + "\n")
        self.jsonl.flush()
        return rec

    def finding(self, text):
        if text not in self.findings:
            self.findings.append(text)
            log("FINDING: " + text)

    def get(self, bench, runtime, metric):
        r = self.figures.get((bench, runtime, metric))
        return r["value"] if r else None


# --------------------------------------------------------------------------- HTTP


class Api:
    """A tiny Lambda API client (bearer auth) on one kept-alive connection."""

    def __init__(self, port, auth, timeout=60):
        self.port, self.auth, self.timeout = port, auth, timeout
        self.conn = None

    def connect(self):
        if self.conn is None:
            self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            self.conn.connect()
            self.conn.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": self.auth}
        if body is not None:
            h["Content-Type"] = "application/json"
        h.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        for attempt in range(2):
            try:
                self.connect()
                self.conn.request(method, path, body=body, headers=h)
                r = self.conn.getresponse()
                data = r.read()
                if r.getheader("Connection", "").lower() == "close":
                    self.close()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, data
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt:
                    raise

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def invoke(self, name, payload, tail=False):
        h = {"X-Amz-Log-Type": "Tail"} if tail else {}
        return self.request("POST", f"/2015-03-31/functions/{name}/invocations", payload, h)

    def update_env(self, name, extra=None):
        env = {"BENCH_GEN": uuid.uuid4().hex}
        env.update(extra or {})
        st, _, body = self.request("PUT", f"/2015-03-31/functions/{name}/configuration",
                                   {"Environment": {"Variables": env}})
        if st != 200:
            raise RuntimeError(f"UpdateFunctionConfiguration {name}: {st} {body[:300]!r}")


class OtlpSink:
    """A minimal OTLP/HTTP trace collector on loopback for the observability phase:
    answers 200 `{}` to POST /v1/traces (HTTP/1.1 keep-alive, as nimbus's exporter
    keeps its connection) and counts the spans of each body
    (resourceSpans[].scopeSpans[].spans[]). Runs in this (driver) process, on its
    threads, pinned to the client CPU like wrk and the driver."""

    def __init__(self, cpu=None):
        sink = self
        self.cpu = cpu
        self.lock = threading.Lock()
        self.spans = self.requests = self.bad = self.bytes = 0
        self.busy_s = self.max_s = 0.0  # time spent reading, parsing and answering

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                t0 = time.perf_counter()
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else b""
                if self.path.split("?")[0] != "/v1/traces":
                    self.answer(404, b'{"error":"not found"}')
                    return
                spans = 0
                try:
                    if self.headers.get("Content-Encoding", "").lower() == "gzip":
                        body = gzip.decompress(body)
                    doc = json.loads(body)
                    for rs in doc.get("resourceSpans") or ():
                        for ss in rs.get("scopeSpans") or ():
                            spans += len(ss.get("spans") or ())
                    ok = True
                except (ValueError, AttributeError, TypeError, OSError, EOFError):
                    ok = False
                with sink.lock:
                    sink.requests += 1
                    sink.bytes += n
                    if ok:
                        sink.spans += spans
                    else:
                        sink.bad += 1
                self.answer(200 if ok else 400, b"{}" if ok else b'{"error":"bad body"}')
                took = time.perf_counter() - t0
                with sink.lock:
                    sink.busy_s += took
                    sink.max_s = max(sink.max_s, took)

            def answer(self, status, data):
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):  # quiet
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self._serve, name="otlp-sink", daemon=True)
        self.thread.start()

    def _serve(self):
        if self.cpu is not None:  # the connection threads inherit this thread's CPU
            os.sched_setaffinity(0, {self.cpu})
        self.server.serve_forever(poll_interval=0.2)

    def counts(self):
        with self.lock:
            return {"spans": self.spans, "requests": self.requests, "bad": self.bad,
                    "bytes": self.bytes, "busy_ms": round(self.busy_s * 1000, 1),
                    "max_ms": round(self.max_s * 1000, 2)}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)


def zip_dir(files):
    """files: list of (arcname, path, executable)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for arcname, path, executable in files:
            info = zipfile.ZipInfo(arcname, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (0o100755 if executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            with open(path, "rb") as f:
                z.writestr(info, f.read())
    return base64.b64encode(buf.getvalue()).decode()


# --------------------------------------------------------------------------- processes


def proc_children():
    """Map ppid -> [pid] for every process."""
    kids = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                stat = f.read()
            ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        except (OSError, ValueError):
            continue
        kids.setdefault(ppid, []).append(int(d))
    return kids


def subtree(pid, kids):
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(kids.get(p, []))
    return out


def alive(pid):
    """True when the process exists and is not a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def env_of(pid):
    try:
        with open(f"/proc/{pid}/environ", "rb") as f:
            items = f.read().split(b"\0")
    except OSError:
        return {}
    env = {}
    for it in items:
        k, _, v = it.partition(b"=")
        env[k.decode(errors="replace")] = v.decode(errors="replace")
    return env


def smaps_rollup(pid):
    """(rss_kib, pss_kib) of one process, or None."""
    try:
        with open(f"/proc/{pid}/smaps_rollup") as f:
            text = f.read()
    except OSError:
        return None
    rss = re.search(r"^Rss:\s+(\d+) kB", text, re.M)
    pss = re.search(r"^Pss:\s+(\d+) kB", text, re.M)
    if not rss or not pss:
        return None
    return int(rss.group(1)), int(pss.group(1))


def cpu_seconds(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return None


def tree_cpu(pid):
    """{pid: cpu seconds} for a server process and all its descendants."""
    out = {}
    for p in subtree(pid, proc_children()):
        c = cpu_seconds(p)
        if c is not None:
            out[p] = c
    return out


def cpu_delta(before, after):
    """CPU seconds used between two tree_cpu() snapshots by the processes alive at the
    end (a process that started in between counts from zero)."""
    return sum(c - before.get(p, 0.0) for p, c in after.items())


def wait_quiet(pid, limit_s=15.0):
    """Waits (at most limit_s) until a server and its descendants use under 8% of a CPU
    over two 0.25 s windows in a row: no invocation is running any more."""
    deadline = time.time() + limit_s
    quiet = 0
    before = tree_cpu(pid)
    while time.time() < deadline and quiet < 2:
        time.sleep(0.25)
        after = tree_cpu(pid)
        quiet = quiet + 1 if cpu_delta(before, after) < 0.02 else 0
        before = after


def instances_of(server_pid, function_name):
    """Memory of each instance (a child of the server and its descendants) of a function:
    list of (pid, rss_kib, pss_kib)."""
    kids = proc_children()
    out = []
    for child in kids.get(server_pid, []):
        tree = subtree(child, kids)
        if not any(env_of(p).get("AWS_LAMBDA_FUNCTION_NAME") == function_name for p in tree):
            continue
        rss = pss = 0
        for p in tree:
            m = smaps_rollup(p)
            if m:
                rss += m[0]
                pss += m[1]
        out.append((child, rss, pss))
    return out


# --------------------------------------------------------------------------- wrk


def run_wrk(cfg, url, conc, duration, auth):
    threads = 1 if cfg.client_cpu is not None else min(conc, max(1, os.cpu_count() or 1))
    env = dict(os.environ, BENCH_PAYLOAD=cfg.payload_path, BENCH_AUTH=auth or "")
    cmd = ["wrk", "-t", str(threads), "-c", str(conc), "-d", f"{max(1, round(duration))}s",
           "--timeout", "10s", "-s", os.path.join(HERE, "wrk", "post.lua"), url]
    p = subprocess.run(cmd, env=env, capture_output=True, text=True,
                       preexec_fn=pin(cfg.client_cpu), timeout=duration + 60)
    for line in p.stdout.splitlines():
        if line.startswith("BENCHJSON "):
            r = json.loads(line[len("BENCHJSON "):])
            r["rps"] = r["requests"] / (r["duration_us"] / 1e6) if r["duration_us"] else 0.0
            return r
    raise RuntimeError(f"wrk gave no result (rc {p.returncode}): "
                       f"{p.stdout[-500:]} {p.stderr[-500:]}")


# --------------------------------------------------------------------------- the bench


class Bench:
    def __init__(self, cfg):
        self.cfg = cfg
        self.res = Results(cfg.out, cfg.runs)
        self.tmp = tempfile.mkdtemp(prefix="nimbus-bench-")
        self.nimbus = None
        self.baseline = None
        self.key = "BENCHKEY" + uuid.uuid4().hex[:12].upper()
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.auth = f"Bearer {self.key}:{self.secret}"
        # The full log (one line per invocation at info level: ~150 MB in a full run)
        # stays in the temporary folder; the output folder gets it without the
        # per-invocation "invoked" lines.
        self.nimbus_log_path = os.path.join(self.tmp, "nimbus.log")
        self.payload = make_payload(1024)
        cfg.payload_path = os.path.join(self.tmp, "payload.json")
        with open(cfg.payload_path, "wb") as f:
            f.write(self.payload)
        self.expected_echo = {"echo": json.loads(self.payload)}

    # ----------------------------------------------------------------- servers

    def start_baseline(self):
        self.baseline_port = free_port()
        self.baseline = subprocess.Popen([self.cfg.baseline_bin, str(self.baseline_port), "1"],
                                         preexec_fn=pin(self.cfg.server_cpu),
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_http(self.baseline_port, "/", 10)

    def start_nimbus(self):
        self.port = free_port()
        data = os.path.join(self.tmp, "data")
        env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY_ID=self.key,
                   NIMBUS_ROOT_SECRET_ACCESS_KEY=self.secret)
        for k in ("NIMBUS_DATA", "NIMBUS_LISTEN", "NIMBUS_KEEP_ALIVE_SECONDS"):
            env.pop(k, None)
        cmd = [self.cfg.nimbus_bin, "serve", "--listen", f"127.0.0.1:{self.port}",
               "--data", data, "--log-level", self.cfg.nimbus_log_level]
        if self.cfg.runtimes_dir:
            cmd += ["--runtimes", self.cfg.runtimes_dir]
        help_text = subprocess.run([self.cfg.nimbus_bin, "serve", "--help"], capture_output=True,
                                   text=True, timeout=10).stdout
        if "--memory-budget-mb" in help_text:
            # The budget counts MemorySize, not memory used: leave room for every phase's
            # instances (the figures are about speed, not about the budget).
            cmd += ["--memory-budget-mb", str(max(1, 160 * self.cfg.memory_mb))]
        if self.cfg.sandbox:
            if "--sandbox" not in help_text:
                raise RuntimeError("this nimbus has no --sandbox flag")
            cmd += ["--sandbox", self.cfg.sandbox]
        self.nimbus_log = open(self.nimbus_log_path, "w")
        self.nimbus = subprocess.Popen(cmd, env=env, preexec_fn=pin(self.cfg.server_cpu),
                                       stdout=self.nimbus_log, stderr=subprocess.STDOUT)
        wait_http(self.port, "/healthz", 20, method="GET")
        self.api = Api(self.port, self.auth)
        self.nimbus_log.flush()
        with open(self.nimbus_log_path, errors="replace") as f:
            for line in f:
                if '"nimbus is serving"' in line:
                    try:
                        self.sandbox_line = json.loads(line).get("sandbox", "?")
                    except ValueError:
                        pass
        log(f"nimbus {self.nimbus.pid} on 127.0.0.1:{self.port} (data {data})")

    def nimbus_alive(self, where):
        if self.nimbus.poll() is not None:
            self.res.finding(f"nimbus exited with status {self.nimbus.returncode} during {where}")
            return False
        return True

    def stop(self):
        if self.nimbus and self.nimbus.poll() is None:
            kids_before = proc_children().get(self.nimbus.pid, [])
            self.nimbus.send_signal(signal.SIGTERM)
            t0 = time.time()
            try:
                rc = self.nimbus.wait(timeout=40)
                log(f"nimbus stopped (status {rc}) in {time.time() - t0:.2f} s")
                if rc != 0:
                    self.res.finding(f"nimbus exited with status {rc} on SIGTERM")
            except subprocess.TimeoutExpired:
                self.res.finding("nimbus did not stop within 40 s of SIGTERM; killed")
                self.nimbus.kill()
                self.nimbus.wait()
            time.sleep(0.3)
            kids = proc_children()
            left = [p for p in kids_before if alive(p) and any(
                env_of(q).get("AWS_LAMBDA_FUNCTION_NAME", "").startswith("bench-")
                for q in subtree(p, kids))]
            if left:
                self.res.finding(f"{len(left)} instance processes outlived nimbus: {left[:10]}")
                for p in left:  # ours: started by our nimbus, running our functions
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
        if self.baseline and self.baseline.poll() is None:
            self.baseline.terminate()
            self.baseline.wait(timeout=10)

    # ----------------------------------------------------------------- functions

    def deploy(self):
        c = self.cfg
        py = os.path.join(HERE, "functions", "python", "app.py")
        node = os.path.join(HERE, "functions", "node", "index.mjs")
        specs = {
            "provided": ("provided", "echo",
                         [("bootstrap", c.provided_bootstrap, True)]),
            "python3.11": ("python3.11", "app.handler", [("app.py", py, False)]),
            "nodejs20.x": ("nodejs20.x", "index.handler", [("index.mjs", node, False)]),
        }
        sleep_specs = dict(specs)
        sleep_specs["provided"] = ("provided", "sleep",
                                   [("bootstrap", c.sleep_bootstrap, True)])
        self.echo_fn, self.sleep_fn = {}, {}
        for rt in RUNTIMES:
            for kind, table, spec in (("echo", self.echo_fn, specs[rt]),
                                      ("sleep", self.sleep_fn, sleep_specs[rt])):
                runtime, handler, files = spec
                name = f"bench-{kind}-{rt.replace('.', '')}"
                body = {"FunctionName": name, "Runtime": runtime, "Handler": handler,
                        "Role": "arn:aws:iam::000000000000:role/bench",
                        "MemorySize": c.memory_mb,
                        "Timeout": 30 if kind == "sleep" else 10,
                        "Code": {"ZipFile": zip_dir(files)}}
                st, _, data = self.api.request("POST", "/2015-03-31/functions", body)
                if st != 201:
                    raise RuntimeError(f"CreateFunction {name}: {st} {data[:300]!r}")
                table[rt] = name
        for rt in RUNTIMES:
            self.check_echo(rt, "after deploy")
            st, h, data = self.api.invoke(self.sleep_fn[rt], {"sleep_ms": 1})
            if st != 200 or "instance" not in json.loads(data or b"{}"):
                raise RuntimeError(f"sleep function {rt}: {st} {h} {data[:300]!r}")

    def wrk_errors(self, what, r):
        errs = {k: v for k, v in r["errors"].items() if v}
        if errs:
            self.res.finding(f"{what}: wrk counted errors {errs} of {r['requests']} requests "
                             "(status = non-2xx/3xx answers)")

    def check_echo(self, rt, when):
        st, h, data = self.api.invoke(self.echo_fn[rt], self.payload)
        ok = st == 200 and "x-amz-function-error" not in h
        try:
            ok = ok and json.loads(data) == self.expected_echo
        except ValueError:
            ok = False
        if not ok:
            self.res.finding(f"{rt} echo check {when}: status {st}, "
                             f"function error {h.get('x-amz-function-error')}, body {data[:200]!r}")
        return ok

    def retire(self, fn):
        """Changes the function's configuration, which makes nimbus end its instances."""
        self.api.update_env(fn)

    # ----------------------------------------------------------------- phases

    def phase_cold(self):
        c, res = self.cfg, self.res
        log(f"cold starts: {c.cold} per run x {c.runs} runs per runtime")
        # Baseline: process start -> first HTTP answer of the echo server.
        runs = []
        for _ in range(c.runs):
            samples = [baseline_cold_start(c) for _ in range(c.cold)]
            runs.append((percentile(samples, 50), percentile(samples, 99)))
            res.raw_record(phase="cold", runtime=BASELINE, samples_ms=samples)
        res.add("cold_start", BASELINE, "client_p50", [r[0] for r in runs], "ms",
                note="process start to first HTTP answer of the echo server")
        res.add("cold_start", BASELINE, "client_p99", [r[1] for r in runs], "ms")
        for rt in RUNTIMES:
            fn = self.echo_fn[rt]
            init_runs, client_runs, not_cold, failures = [], [], 0, 0
            for _ in range(c.runs):
                inits, clients = [], []
                for _ in range(c.cold):
                    self.api.update_env(fn)
                    t0 = time.perf_counter()
                    st, h, data = self.api.invoke(fn, self.payload, tail=True)
                    dt = (time.perf_counter() - t0) * 1000
                    if st != 200 or "x-amz-function-error" in h:
                        failures += 1
                        res.finding(f"{rt} cold invoke: status {st}, "
                                    f"function error {h.get('x-amz-function-error')}, "
                                    f"body {data[:200]!r}")
                        continue
                    tail = base64.b64decode(h.get("x-amz-log-result", "")).decode(errors="replace")
                    m = re.search(r"Init Duration: ([\d.]+) ms", tail)
                    if not m:
                        not_cold += 1
                    else:
                        inits.append(float(m.group(1)))
                    clients.append(dt)
                res.raw_record(phase="cold", runtime=rt, init_ms=inits, client_ms=clients)
                if inits:
                    init_runs.append((percentile(inits, 50), percentile(inits, 99)))
                if clients:
                    client_runs.append((percentile(clients, 50), percentile(clients, 99)))
            if not_cold:
                res.finding(f"{rt}: {not_cold} invokes right after UpdateFunctionConfiguration "
                            "had no Init Duration in their REPORT line (not cold?)")
            extra = {"samples_per_run": c.cold, "failures": failures}
            res.add("cold_start", rt, "init_duration_p50", [r[0] for r in init_runs], "ms", **extra)
            res.add("cold_start", rt, "init_duration_p99", [r[1] for r in init_runs], "ms", **extra)
            res.add("cold_start", rt, "client_p50", [r[0] for r in client_runs], "ms", **extra)
            res.add("cold_start", rt, "client_p99", [r[1] for r in client_runs], "ms", **extra)
            self.nimbus_alive("cold starts")

    def phase_memory(self):
        c, res = self.cfg, self.res
        log(f"memory: {c.mem_instances} idle instances per runtime x {c.runs} runs")
        # Start from nothing warm: retire the echo instances the cold phase left.
        for rt in RUNTIMES:
            self.retire(self.echo_fn[rt])
        rss_b, pss_b = [], []
        for _ in range(c.runs):
            m = smaps_rollup(self.baseline.pid)
            if m:
                rss_b.append(m[0] / 1024)
                pss_b.append(m[1] / 1024)
            time.sleep(0.05)
        res.add("memory", BASELINE, "rss_idle", rss_b, "MiB", note="the echo server process")
        res.add("memory", BASELINE, "pss_idle", pss_b, "MiB")
        for rt in RUNTIMES:
            fn = self.sleep_fn[rt]
            rss_runs, pss_runs, counts = [], [], []
            for _ in range(c.runs):
                self.retire(fn)
                results = parallel_invokes(self.port, self.auth, fn, {"sleep_ms": 300},
                                           c.mem_instances)
                bad = [r for r in results if r["status"] != 200 or r.get("function_error")]
                for r in bad:
                    res.finding(f"{rt} memory-phase invoke: {r}")
                time.sleep(0.3)  # idle now
                inst = instances_of(self.nimbus.pid, fn)
                counts.append(len(inst))
                res.raw_record(phase="memory", runtime=rt, instances=inst)
                if inst:
                    rss_runs.append(statistics.median(i[1] for i in inst) / 1024)
                    pss_runs.append(statistics.median(i[2] for i in inst) / 1024)
            if any(n != c.mem_instances for n in counts):
                res.finding(f"{rt}: expected {c.mem_instances} idle instances after "
                            f"{c.mem_instances} overlapping invokes, found {counts}")
            extra = {"instances_per_run": counts}
            res.add("memory", rt, "rss_idle", rss_runs, "MiB", **extra)
            res.add("memory", rt, "pss_idle", pss_runs, "MiB", **extra)
            self.retire(fn)
        m = smaps_rollup(self.nimbus.pid)
        if m:
            res.add("memory", "nimbus-server", "rss", [m[0] / 1024], "MiB",
                    note="the nimbus serve process itself, after the memory phase")
            res.add("memory", "nimbus-server", "pss", [m[1] / 1024], "MiB")
        self.nimbus_alive("memory")

    def phase_throughput(self):
        c, res = self.cfg, self.res
        log(f"throughput: {c.runs} x {c.wrk_s} s wrk runs per target and concurrency "
            f"{CONCURRENCIES}; sustained: {c.runs} x {c.sustain_s} s")
        for target in TARGETS:
            if target == BASELINE:
                url, auth = f"http://127.0.0.1:{self.baseline_port}/", ""
            else:
                if not self.nimbus_alive(f"throughput {target}"):
                    return
                fn = self.echo_fn[target]
                url = f"http://127.0.0.1:{self.port}/2015-03-31/functions/{fn}/invocations"
                auth = self.auth
            server_pid = self.baseline.pid if target == BASELINE else self.nimbus.pid
            for conc in CONCURRENCIES:
                # Warm up until the instances this concurrency needs are all started and
                # have each served a few invocations (64 node instances take seconds of CPU
                # to start on one core, and a fresh node instance's first invocations cost
                # milliseconds of JIT compilation), so the measured runs see warm instances:
                # at least two warm-up runs, until the throughput stops rising by > 20%.
                # wrk ends a run with requests in flight; nimbus finishes them (a client
                # going away does not cancel an invocation), so after a run that started
                # instances, wait for those cold starts to finish: otherwise the next run
                # finds them busy and starts yet more instances.
                prev_live, prev_rps = -1, None
                for i in range(10):
                    w = run_wrk(c, url, conc, c.warmup_s, auth)
                    self.wrk_errors(f"{target} c={conc} (warm-up)", w)
                    if target == BASELINE:
                        break
                    live = len(instances_of(self.nimbus.pid, self.echo_fn[target]))
                    if live != prev_live:
                        wait_quiet(self.nimbus.pid)
                    started = live >= conc or live == prev_live
                    if (started and prev_rps is not None and w["requests"] > 0
                            and w["rps"] <= 1.2 * prev_rps):
                        break
                    prev_live, prev_rps = live, w["rps"]
                if target != BASELINE:
                    wait_quiet(self.nimbus.pid)
                res.raw_record(phase="warm-up", runtime=target, concurrency=conc, runs=i + 1)
                runs = []
                for _ in range(c.runs):
                    before = tree_cpu(server_pid)
                    r = run_wrk(c, url, conc, c.wrk_s, auth)
                    used = cpu_delta(before, tree_cpu(server_pid))
                    r["server_cpu_us_per_req"] = (used * 1e6 / r["requests"]
                                                  if r["requests"] else None)
                    runs.append(r)
                    res.raw_record(phase="throughput", runtime=target, concurrency=conc, wrk=r)
                    self.wrk_errors(f"{target} c={conc}", r)
                errors = sum(sum(r["errors"].values()) for r in runs)
                extra = {"concurrency": conc, "duration_s": c.wrk_s, "errors": errors}
                bench = "warm" if conc == 1 else "throughput"
                res.add(bench, target, f"latency_p50_c{conc}",
                        [r["latency_us"]["p50"] / 1000 for r in runs], "ms", **extra)
                res.add(bench, target, f"latency_p99_c{conc}",
                        [r["latency_us"]["p99"] / 1000 for r in runs], "ms", **extra)
                res.add("throughput", target, f"rps_c{conc}", [r["rps"] for r in runs],
                        "req/s", **extra)
                res.add("throughput", target, f"cpu_per_req_c{conc}",
                        [r["server_cpu_us_per_req"] for r in runs], "us",
                        note="server-side CPU (user+system, the server and its instances) per "
                             "request", **extra)
            if target == "provided":
                runs = []
                for _ in range(c.runs):
                    r = run_wrk(c, url, 64, c.sustain_s, auth)
                    runs.append(r)
                    res.raw_record(phase="sustained", runtime=target, concurrency=64, wrk=r)
                    self.wrk_errors("sustained provided c=64", r)
                # The baseline's figure for comparison is its c=64 throughput.
                res.add("sustained", target, "rps_c64", [r["rps"] for r in runs], "req/s",
                        baseline_of=("throughput", "rps_c64"), concurrency=64,
                        duration_s=c.sustain_s,
                        errors=sum(sum(r["errors"].values()) for r in runs))
            if target != BASELINE:
                self.check_echo(target, "after the throughput runs")
                live = len(instances_of(self.nimbus.pid, self.echo_fn[target]))
                res.raw_record(phase="throughput", runtime=target, live_instances_after=live)
                log(f"{target}: {live} instances after the throughput runs")
                self.retire(self.echo_fn[target])

    def start_side_nimbus(self, extra_args, log_path=None):
        """A second `nimbus serve` (own data folder and port, same CPU) for A/B figures.
        log_path: where its (warn-level) log goes (default: nowhere)."""
        port = free_port()
        data = os.path.join(self.tmp, "data-" + uuid.uuid4().hex[:8])
        env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY_ID=self.key,
                   NIMBUS_ROOT_SECRET_ACCESS_KEY=self.secret)
        for k in ("NIMBUS_DATA", "NIMBUS_LISTEN", "NIMBUS_KEEP_ALIVE_SECONDS"):
            env.pop(k, None)
        cmd = [self.cfg.nimbus_bin, "serve", "--listen", f"127.0.0.1:{port}", "--data", data,
               "--log-level", "warn", "--memory-budget-mb", str(max(1, 160 * self.cfg.memory_mb))]
        if self.cfg.runtimes_dir:
            cmd += ["--runtimes", self.cfg.runtimes_dir]
        if self.cfg.sandbox:
            cmd += ["--sandbox", self.cfg.sandbox]
        out = open(log_path, "w") if log_path else subprocess.DEVNULL
        try:
            proc = subprocess.Popen(cmd + list(extra_args), env=env,
                                    preexec_fn=pin(self.cfg.server_cpu),
                                    stdout=out, stderr=subprocess.STDOUT)
        finally:
            if log_path:
                out.close()  # the child holds its own descriptor
        wait_http(port, "/healthz", 20, method="GET")
        return proc, port, Api(port, self.auth)

    def phase_observability(self):
        """Warm invoke throughput of the provided echo function with observability in
        full (metrics, invocation records, persisted logs) against --records off
        (metrics only), and with trace export on top of records (--otlp-endpoint, to a
        sink this driver runs): servers started alike for this phase, alternating runs."""
        c, res = self.cfg, self.res
        help_text = subprocess.run([c.nimbus_bin, "serve", "--help"], capture_output=True,
                                   text=True, timeout=10).stdout
        if "--records" not in help_text:
            res.finding("observability phase skipped: this nimbus has no --records flag")
            return
        sides = ["on", "off"]
        if "--otlp-endpoint" in help_text:
            sides.append("traces")
        else:
            res.finding("observability: trace export not measured: this nimbus has no "
                        "--otlp-endpoint flag")
        servers, sink = {}, None
        traces_log = os.path.join(self.tmp, "nimbus-observability-traces.log")
        try:
            for side in sides:
                if side == "traces":
                    # The collector: a Python sink in this process, on the client CPU.
                    sink = OtlpSink(c.client_cpu)
                    args = ["--records", "on", "--otlp-endpoint",
                            f"http://127.0.0.1:{sink.port}"]
                    if "--otlp-timeout-ms" in help_text:
                        args += ["--otlp-timeout-ms", "2000"]
                    servers[side] = self.start_side_nimbus(args, log_path=traces_log)
                else:
                    servers[side] = self.start_side_nimbus(["--records", side])
            fn = "bench-obs-echo"
            urls = {}
            for side, (_, port, api) in servers.items():
                body = {"FunctionName": fn, "Runtime": "provided", "Handler": "echo",
                        "Role": "arn:aws:iam::000000000000:role/bench",
                        "MemorySize": c.memory_mb, "Timeout": 10,
                        "Code": {"ZipFile": zip_dir([("bootstrap", c.provided_bootstrap,
                                                      True)])}}
                st, _, data = api.request("POST", "/2015-03-31/functions", body)
                if st != 201:
                    raise RuntimeError(f"CreateFunction (records {side}): {st} {data[:200]!r}")
                urls[side] = f"http://127.0.0.1:{port}/2015-03-31/functions/{fn}/invocations"
            log(f"observability: records on vs off"
                f"{' vs records on + OTLP trace export' if 'traces' in sides else ''}, "
                f"{c.runs} x {c.wrk_s} s alternating runs at c=1 and c=16")
            traces_requests = 0  # invocations wrk completed against the traces server
            for conc in (1, 16):
                for side in sides:  # warm every server: instances started, caches hot
                    for _ in range(2):
                        w = run_wrk(c, urls[side], conc, c.warmup_s, self.auth)
                        if side == "traces":
                            traces_requests += w["requests"]
                samples = {side: [] for side in sides}
                for i in range(c.runs):
                    # Rotate the order (on/off, off/on with two sides; a Latin square
                    # with three), so that drift in the box's load falls on every side.
                    k = i % len(sides)
                    order = sides[k:] + sides[:k]
                    for side in order:
                        pid = servers[side][0].pid
                        before = tree_cpu(pid)
                        r = run_wrk(c, urls[side], conc, c.wrk_s, self.auth)
                        used = cpu_delta(before, tree_cpu(pid))
                        r["server_cpu_us_per_req"] = (used * 1e6 / r["requests"]
                                                      if r["requests"] else None)
                        if side == "traces":
                            traces_requests += r["requests"]
                            self.wrk_errors(f"observability records=on + traces c={conc}", r)
                            res.raw_record(phase="observability", records="on", traces="on",
                                           concurrency=conc, wrk=r)
                        else:
                            self.wrk_errors(f"observability records={side} c={conc}", r)
                            res.raw_record(phase="observability", records=side,
                                           concurrency=conc, wrk=r)
                        samples[side].append(r)
                figs = {}
                for side in sides:
                    suffix = "traces_on" if side == "traces" else f"records_{side}"
                    figs[side] = res.add("observability", "provided", f"rps_c{conc}_{suffix}",
                                         [r["rps"] for r in samples[side]], "req/s",
                                         concurrency=conc, duration_s=c.wrk_s)["value"]
                    res.add("observability", "provided", f"latency_p50_c{conc}_{suffix}",
                            [r["latency_us"]["p50"] / 1000 for r in samples[side]], "ms",
                            concurrency=conc)
                    note = "server-side CPU (the server and its instances) per request"
                    if side == "traces":
                        note += "; records on and OTLP trace export (the sink's CPU not counted)"
                    res.add("observability", "provided", f"cpu_per_req_c{conc}_{suffix}",
                            [r["server_cpu_us_per_req"] for r in samples[side]], "us",
                            concurrency=conc, note=note)
                # Paired runs: the cost of each on run against the off run beside it.
                paired = [(1 - a["rps"] / b["rps"]) * 100
                          for a, b in zip(samples["on"], samples["off"]) if b["rps"]]
                cost = res.add("observability", "provided", f"overhead_pct_c{conc}", paired, "%",
                               concurrency=conc, note="median of paired runs")["value"]
                res.finding(f"observability cost at c={conc}: {figs['on']:.0f} req/s with "
                            f"records and logs kept vs {figs['off']:.0f} req/s with "
                            f"--records off (median paired cost {cost:+.1f} %)")
                if "traces" in sides:
                    # The cost of trace export on top of records: traces run vs the
                    # records-on run of the same round.
                    paired = [(1 - t["rps"] / o["rps"]) * 100
                              for t, o in zip(samples["traces"], samples["on"]) if o["rps"]]
                    tcost = res.add("observability", "provided", f"trace_overhead_pct_c{conc}",
                                    paired, "%", concurrency=conc,
                                    note="median of paired runs: 1 - rps_traces_on / "
                                         "rps_records_on")["value"]
                    res.finding(f"trace export cost at c={conc}: {figs['traces']:.0f} req/s "
                                f"with records and OTLP trace export vs {figs['on']:.0f} req/s "
                                f"with records only (median paired cost {tcost:+.1f} %)")
            if "traces" in sides:
                self.check_trace_export(servers.pop("traces"), sink, traces_requests,
                                        traces_log)
        finally:
            for proc, _, _ in servers.values():
                proc.terminate()
                try:
                    proc.wait(timeout=40)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            if sink is not None:
                sink.close()
            if os.path.exists(traces_log):
                shutil.copy(traces_log, os.path.join(c.out, "nimbus-observability-traces.log"))

    def check_trace_export(self, server, sink, wrk_requests, log_path):
        """Stops the traces server (SIGTERM drains its span queue) and checks that the
        sink received spans: a figure with the counts and findings when spans are
        missing or were dropped."""
        res = self.res
        proc, port, api = server
        invocations = dropped = None
        try:
            st, _, data = api.request("GET", "/metrics")
            if st == 200:
                invocations = prom_sum(data, "nimbus_invocations_total")
                invocations = int(invocations) if invocations is not None else None
                dropped = prom_sum(data, "nimbus_trace_spans_dropped_total")
        except OSError:
            pass
        api.close()
        proc.terminate()
        try:
            rc = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            rc = proc.wait()
        if rc != 0:
            res.finding(f"observability: the traces server exited with status {rc} on SIGTERM")
        # Its spans were exported before it exited; allow a last request in flight.
        got = sink.counts()
        deadline = time.time() + 2
        while time.time() < deadline:
            time.sleep(0.2)
            now = sink.counts()
            if now == got:
                break
            got = now
        made = invocations if invocations is not None else wrk_requests
        per = got["spans"] / made if made else None
        # Every span nimbus made was either received or counted as dropped.
        made_per = (got["spans"] + (dropped or 0)) / made if made else None
        rec = {"bench": "observability", "runtime": "provided", "metric": "trace_spans_received",
               "value": got["spans"], "unit": "spans", "invocations": invocations,
               "wrk_requests": wrk_requests,
               "spans_per_invocation": round(per, 3) if per is not None else None,
               "spans_made_per_invocation": (round(made_per, 3) if made_per is not None
                                             else None),
               "export_requests": got["requests"], "export_bytes": got["bytes"],
               "bad_export_requests": got["bad"], "spans_dropped": dropped,
               "sink_busy_ms": got["busy_ms"], "sink_max_request_ms": got["max_ms"],
               "note": "spans the OTLP sink received from the traces server; invocations: "
                       "its nimbus_invocations_total (wrk_requests: those wrk counted)"}
        print("OTLPSINK " + json.dumps(rec), flush=True)
        res.jsonl.write(json.dumps(rec) + "\n")
        res.jsonl.flush()
        res.raw_record(phase="observability-traces", **rec)
        if got["spans"] == 0:
            res.finding(f"trace export: the OTLP sink received no spans ({got['requests']} "
                        f"export requests) for {made} invocations of the --otlp-endpoint server")
        else:
            res.finding(f"trace export: the OTLP sink received {got['spans']} spans in "
                        f"{got['requests']} export requests for {made} invocations "
                        f"({per or 0:.2f} spans per invocation)")
        if got["bad"]:
            res.finding(f"trace export: {got['bad']} export requests the sink could not parse")
        if dropped:
            total = got["spans"] + dropped
            avg = got["busy_ms"] / got["requests"] if got["requests"] else 0.0
            res.finding(f"trace export: nimbus dropped {dropped:.0f} of {total:.0f} spans "
                        f"({100 * dropped / total:.1f} %; nimbus_trace_spans_dropped_total: its "
                        "span queue full, or exports that failed) while the sink answered "
                        f"each export in {avg:.1f} ms on average, {got['max_ms']:.1f} ms at most")
        warns = {}
        try:
            with open(log_path, errors="replace") as f:
                for line in f:
                    try:
                        r = json.loads(line)
                    except ValueError:
                        continue
                    if r.get("level") in ("warn", "warning", "error", "fatal"):
                        key = f"{r.get('level')}: {r.get('msg') or r.get('message') or '?'}"
                        warns[key] = warns.get(key, 0) + 1
        except OSError:
            pass
        for key, n in sorted(warns.items(), key=lambda kv: -kv[1])[:5]:
            res.finding(f"observability traces server log: {n} x '{key}'")

    def phase_scale(self):
        c, res = self.cfg, self.res
        log(f"scale from 0 to {c.scale} busy instances: {c.runs} runs per runtime")
        for rt in RUNTIMES:
            if not self.nimbus_alive(f"scale {rt}"):
                return
            fn = self.sleep_fn[rt]
            starts, dones, pids_seen = [], [], []
            for _ in range(c.runs):
                self.retire(fn)
                time.sleep(0.2)
                results = parallel_invokes(self.port, self.auth, fn, {"sleep_ms": 1000}, c.scale)
                t0 = results[0]["t0"]
                ok = [r for r in results if r["status"] == 200 and not r.get("function_error")
                      and "start" in r["body"]]
                bad = [r for r in results if r not in ok]
                statuses = {}
                for r in bad:
                    statuses[r["status"]] = statuses.get(r["status"], 0) + 1
                if bad:
                    res.finding(f"{rt} scale to {c.scale}: {len(bad)} of {c.scale} invokes failed "
                                f"(statuses {statuses}; e.g. {bad[0]['status']} "
                                f"{bad[0]['raw'][:200]!r})")
                instances = {r["body"].get("instance") for r in ok}
                pids_seen.append(len(instances))
                res.raw_record(phase="scale", runtime=rt, ok=len(ok),
                               distinct_instances=len(instances),
                               start_offsets_ms=sorted(round((r["body"]["start"] - t0) * 1000, 2)
                                                       for r in ok),
                               done_offsets_ms=sorted(round((r["t_end"] - t0) * 1000, 2)
                                                      for r in ok))
                if len(ok) == c.scale:
                    starts.append((max(r["body"]["start"] for r in ok) - t0) * 1000)
                    dones.append((max(r["t_end"] for r in ok) - t0) * 1000)
            if any(n != c.scale for n in pids_seen):
                res.finding(f"{rt} scale: distinct instances per run {pids_seen} (want {c.scale})")
            extra = {"instances": c.scale, "sleep_ms": 1000}
            res.add("scale", rt, f"time_to_{c.scale}_running", starts, "ms", **extra)
            res.add("scale", rt, f"time_to_{c.scale}_done", dones, "ms", **extra)
            self.retire(fn)
            time.sleep(0.5)

    # ----------------------------------------------------------------- log scan

    def scan_nimbus_log(self):
        self.nimbus_log.flush()
        levels, messages, statuses, live, peak = {}, {}, {}, {}, {}
        invoked = cold = fn_errors = 0
        with open(self.nimbus_log_path, errors="replace") as f, \
                open(os.path.join(self.cfg.out, "nimbus.log"), "w") as kept:
            for line in f:
                try:
                    rec = json.loads(line)
                except ValueError:
                    levels["(not json)"] = levels.get("(not json)", 0) + 1
                    kept.write(line)
                    continue
                if rec.get("msg") != "invoked":
                    kept.write(line)
                lvl = rec.get("level", "?")
                levels[lvl] = levels.get(lvl, 0) + 1
                msg = rec.get("msg") or rec.get("message") or "?"
                if lvl in ("warn", "warning", "error", "fatal"):
                    key = f"{lvl}: {rec.get('component', rec.get('module', ''))} {msg}"
                    messages[key] = messages.get(key, 0) + 1
                if msg == "invoked":
                    invoked += 1
                    cold += rec.get("cold") == "true"
                    fn_errors += rec.get("outcome") == "error"
                fn = rec.get("function")
                if msg == "instance started":
                    live[fn] = live.get(fn, 0) + 1
                    peak[fn] = max(peak.get(fn, 0), live[fn])
                if msg == "instance exited":
                    live[fn] = live.get(fn, 0) - 1
                    why = str(rec.get("reason") or rec.get("how") or rec.get("status") or "")
                    statuses[why] = statuses.get(why, 0) + 1
        summary = {"levels": levels, "warn_error_messages": messages, "invoked": invoked,
                   "cold": cold, "function_errors": fn_errors, "instance_exits": statuses,
                   "log_bytes": os.path.getsize(self.nimbus_log_path),
                   "peak_live_instances": peak}
        for fn, n in peak.items():
            # Only the echo functions: the sleep functions are retired between runs, and a
            # retired instance's exit is logged a little after the next run's starts.
            if fn and "-echo-" in fn and n > 70:  # no phase sends more than 64 at once
                self.res.finding(f"{fn}: up to {n} live instances, though no phase sends more "
                                 "than 64 invocations of it at once (invocations whose client "
                                 "left, e.g. at the end of a wrk run, keep their instance busy "
                                 "while the next burst starts new ones)")
        unexpected = {k: v for k, v in statuses.items() if k != "signal: killed"}
        if unexpected:
            self.res.finding(f"instances ended other than by nimbus killing them: {unexpected}")
        self.res.raw_record(phase="nimbus-log", **summary)
        for key, n in sorted(messages.items(), key=lambda kv: -kv[1])[:10]:
            self.res.finding(f"nimbus log: {n} x '{key}'")
        if fn_errors:
            self.res.finding(f"nimbus log: {fn_errors} invocations ended with a function error")
        return summary

    def run(self):
        c = self.cfg
        phases = c.phases
        try:
            self.start_baseline()
            self.start_nimbus()
            self.deploy()
            if "cold" in phases:
                self.phase_cold()
            if "memory" in phases:
                self.phase_memory()
            if "throughput" in phases:
                self.phase_throughput()
            if "scale" in phases:
                self.phase_scale()
            if "observability" in phases:
                self.phase_observability()
        except Exception as e:  # report what we have
            self.res.finding(f"benchmark aborted: {type(e).__name__}: {e}")
            import traceback
            traceback.print_exc()
        finally:
            self.stop()
            if self.nimbus:
                self.log_summary = self.scan_nimbus_log()
            shutil.rmtree(self.tmp, ignore_errors=True)
        write_report(self)


def make_payload(size):
    base = {"id": "bench-0001", "kind": "echo", "numbers": list(range(10)), "pad": ""}
    n = size - len(json.dumps(base, separators=(",", ":")))
    base["pad"] = "x" * max(0, n)
    out = json.dumps(base, separators=(",", ":")).encode()
    assert len(out) == size, len(out)
    return out


def prom_sum(text, name):
    """Sum of every sample of metric `name` in a Prometheus text exposition (bytes or
    str); None when it has no sample."""
    if isinstance(text, bytes):
        text = text.decode(errors="replace")
    total, seen = 0.0, False
    for line in text.splitlines():
        if line.startswith(name) and line[len(name):len(name) + 1] in ("{", " "):
            try:
                total += float(line.rsplit(None, 1)[-1])
                seen = True
            except ValueError:
                pass
    return total if seen else None

def wait_http(port, path, timeout, method="POST"):
    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request(method, path, body=b"{}" if method == "POST" else None)
            c.getresponse().read()
            c.close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing answered on 127.0.0.1:{port}{path} within {timeout} s")


def baseline_cold_start(cfg):
    """ms from spawning the echo server to its first HTTP answer."""
    port = free_port()
    req = (b"POST / HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
           b"Content-Length: 2\r\nConnection: close\r\n\r\n{}")
    # No preexec_fn (it would make Python fork itself instead of using vfork): the child
    # inherits this thread's affinity, switched to the server CPU just for the spawn.
    if cfg.server_cpu is not None:
        os.sched_setaffinity(0, {cfg.server_cpu})
    t0 = time.perf_counter()
    try:
        p = subprocess.Popen([cfg.baseline_bin, str(port), "1"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    finally:
        if cfg.client_cpu is not None:
            os.sched_setaffinity(0, {cfg.client_cpu})
    try:
        while True:
            s = socket.socket()
            try:
                s.connect(("127.0.0.1", port))
                s.sendall(req)
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return (time.perf_counter() - t0) * 1000
            except OSError:
                pass
            finally:
                s.close()
            if time.perf_counter() - t0 > 10:
                raise RuntimeError("baseline echo server did not answer within 10 s")
    finally:
        p.terminate()
        p.wait()


def parallel_invokes(port, auth, fn, payload, n):
    """n invokes at once, each on its own pre-opened connection. Returns dicts with
    status, body (parsed), t0 (wall clock just before the first send), t_end."""
    conns = []
    for _ in range(n):
        a = Api(port, auth, timeout=60)
        a.connect()
        conns.append(a)
    barrier = threading.Barrier(n + 1)
    results = [None] * n
    t0_box = {}

    def worker(i):
        barrier.wait()
        try:
            st, h, data = conns[i].invoke(fn, payload)
            try:
                body = json.loads(data)
            except ValueError:
                body = {}
            results[i] = {"status": st, "body": body if isinstance(body, dict) else {},
                          "function_error": h.get("x-amz-function-error"),
                          "raw": data[:300], "t_end": time.time()}
        except Exception as e:  # noqa: BLE001 - reported as a failure
            results[i] = {"status": f"{type(e).__name__}: {e}", "body": {}, "raw": b"",
                          "t_end": time.time()}

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    t0_box["t0"] = time.time()
    barrier.wait()
    for t in threads:
        t.join()
    for a in conns:
        a.close()
    for r in results:
        r["t0"] = t0_box["t0"]
    return results


# --------------------------------------------------------------------------- report

ROWS = [
    # (bench, metric, label, unit, lower_is_better)
    ("warm", "latency_p50_c1", "warm latency p50, c=1", "ms", True),
    ("warm", "latency_p99_c1", "warm latency p99, c=1", "ms", True),
    ("throughput", "rps_c1", "throughput, c=1", "req/s", False),
    ("throughput", "cpu_per_req_c1", "server CPU per request, c=1", "µs", True),
    ("throughput", "rps_c16", "throughput, c=16", "req/s", False),
    ("throughput", "latency_p50_c16", "latency p50, c=16", "ms", True),
    ("throughput", "latency_p99_c16", "latency p99, c=16", "ms", True),
    ("throughput", "rps_c64", "throughput, c=64", "req/s", False),
    ("throughput", "latency_p50_c64", "latency p50, c=64", "ms", True),
    ("throughput", "latency_p99_c64", "latency p99, c=64", "ms", True),
    ("throughput", "cpu_per_req_c64", "server CPU per request, c=64", "µs", True),
    ("sustained", "rps_c64", "sustained invocations/s, c=64 (baseline: its c=64 figure)",
     "req/s", False),
    ("cold_start", "init_duration_p50", "cold start p50, Init Duration (REPORT)", "ms", True),
    ("cold_start", "init_duration_p99", "cold start p99, Init Duration (REPORT)", "ms", True),
    ("cold_start", "client_p50",
     "cold start p50, client-observed (baseline: spawn to first answer)", "ms", True),
    ("cold_start", "client_p99", "cold start p99, client-observed", "ms", True),
    ("scale", "time_to_64_running", "scale 0 to 64 busy: last handler started", "ms", True),
    ("scale", "time_to_64_done", "scale 0 to 64 (1 s sleep): last answer", "ms", True),
    ("memory", "rss_idle", "memory per idle warm instance, RSS", "MiB", True),
    ("memory", "pss_idle", "memory per idle warm instance, PSS", "MiB", True),
]


def fmt(v):
    if v is None:
        return "n/a"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}" if abs(v) >= 1 else f"{v:.3f}"


def write_report(bench):
    res, cfg = bench.res, bench.cfg
    lines = []
    lines.append(f"# nimbus benchmarks ({cfg.profile}, median of {cfg.runs} runs)")
    lines.append("")
    lines.append(f"- date: {datetime.datetime.now().isoformat(timespec='seconds')}; "
                 f"host: {os.uname().nodename}, {os.cpu_count()} CPUs, kernel {os.uname().release}")
    lines.append(f"- nimbus: `{cfg.nimbus_bin}` ({cfg.nimbus_version}); baseline: Boost.Beast "
                 "echo server (bench/baseline/echo_server.cc, one thread)")
    if cfg.server_cpu is not None:
        lines.append(f"- pinning: servers (nimbus, its instances, the baseline) on CPU "
                     f"{cfg.server_cpu}; wrk and this driver on CPU {cfg.client_cpu}")
    else:
        lines.append("- pinning: none (client and servers share every core)")
    lines.append(f"- functions: MemorySize {cfg.memory_mb} MB (the sandbox's CPU quota is "
                 f"MemorySize/1769 of a core); nimbus --sandbox {cfg.sandbox or 'default'}; "
                 f"sandbox in force: {getattr(bench, 'sandbox_line', '?')}")
    lines.append(f"- payload: {len(bench.payload)} bytes of JSON; wrk runs of {cfg.wrk_s} s "
                 f"(sustained {cfg.sustain_s} s); {cfg.cold} cold starts per run")
    lines.append(f"- load average before / after the run: {cfg.load_before} / "
                 f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} (other work on the box skews "
                 "every figure)")
    lines.append("- in nimbus columns, (×N) is the figure divided by the baseline's")
    lines.append("")
    head = "| figure | unit | baseline | " + " | ".join(RUNTIMES) + " |"
    lines.append(head)
    lines.append("|---|---|---|" + "---|" * len(RUNTIMES))
    for bench_name, metric, label, unit, _ in ROWS:
        if bench_name == "scale":
            metric = metric.replace("64", str(cfg.scale))
        vals = [res.get(bench_name, t, metric) for t in TARGETS]
        if all(v is None for v in vals):
            continue
        base = vals[0]
        if bench_name == "sustained":
            base = res.get("throughput", BASELINE, "rps_c64")
        cells = [fmt(base) if base is not None else "—"]
        for v in vals[1:]:
            if bench_name == "sustained" and v is None:
                cells.append("—")
                continue
            cell = fmt(v)
            if v is not None and base:
                cell += f" (×{v / base:.2g})" if v / base < 10 else f" (×{v / base:.0f})"
            cells.append(cell)
        lines.append(f"| {label} | {unit} | " + " | ".join(cells) + " |")
    srv = res.get("memory", "nimbus-server", "rss")
    if srv is not None:
        lines.append("")
        lines.append(f"nimbus serve itself: RSS {fmt(srv)} MiB, "
                     f"PSS {fmt(res.get('memory', 'nimbus-server', 'pss'))} MiB.")
    lines.append("")
    lines.append("## Findings")
    lines.append("")
    if res.findings:
        for f in res.findings:
            lines.append(f"- {f}")
    else:
        lines.append("- none: no errors, non-2xx answers, crashes or throttles were seen")
    ls = getattr(bench, "log_summary", None)
    if ls:
        lines.append("")
        # The per-invocation "invoked" line is debug level since the warm-path work:
        # at the default level only cold starts and lifecycle lines are logged.
        lines.append(f"nimbus log: {ls['invoked']} sync invocations logged (debug level) "
                     f"({ls['cold']} cold, {ls['function_errors']} function errors); "
                     f"lines by level: {ls['levels']}; {ls['log_bytes'] / 2**20:.0f} MiB of log "
                     f"({ls['log_bytes'] / max(1, ls['invoked']):.0f} bytes per invocation); "
                     f"peak live instances per function: {ls['peak_live_instances']}")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(cfg.out, "results.md"), "w") as f:
        f.write(text)
    print()
    print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nimbus-bin", required=True)
    ap.add_argument("--baseline-bin", required=True)
    ap.add_argument("--provided-bootstrap", required=True)
    ap.add_argument("--sleep-bootstrap", required=True)
    ap.add_argument("--runtimes-dir", default="")
    ap.add_argument("--runs", type=int, default=0, help="override the number of runs")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--nimbus-log-level", default="info")
    ap.add_argument("--memory-mb", type=int, default=1769,
                    help="MemorySize of the functions (1769: a whole CPU's quota, as in Lambda)")
    ap.add_argument("--sandbox", default="", help="passed to nimbus serve --sandbox when set")
    ap.add_argument("--phases", default="cold,memory,throughput,scale,observability")
    cfg = ap.parse_args()
    cfg.profile = "quick" if cfg.quick else "full"
    runs_override = cfg.runs
    for k, v in PROFILES[cfg.profile].items():
        setattr(cfg, k, v)
    if runs_override:
        cfg.runs = runs_override
    cfg.phases = set(cfg.phases.split(","))
    split_cpus(cfg)
    try:
        cfg.nimbus_version = subprocess.run([cfg.nimbus_bin, "--version"], capture_output=True,
                                            text=True, timeout=10).stdout.strip()
    except Exception:  # noqa: BLE001
        cfg.nimbus_version = "?"
    os.makedirs(cfg.out, exist_ok=True)
    cfg.load_before = " ".join(f"{x:.2f}" for x in os.getloadavg())
    if os.getloadavg()[0] > 1.0:
        log(f"warning: load average {cfg.load_before}: other work on the box will skew figures")
    # SIGTERM unwinds like Ctrl-C, so nimbus and the baseline are always stopped.
    def on_term(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    t0 = time.time()
    Bench(cfg).run()
    log(f"done in {time.time() - t0:.0f} s; results in {cfg.out}")


if __name__ == "__main__":
    main()
