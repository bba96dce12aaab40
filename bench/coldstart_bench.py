#!/usr/bin/python3
"""nimbus cold-start benchmark, phase `coldstart` of bench/run.sh (issue 3).

Cold start, from sending the invoke to the first byte of its answer, for `provided` (the
compiled examples/echo-provided-cpp bootstrap), `python3.11` and `nodejs20.x`, with and
without the sandbox: two `nimbus serve` processes run side by side, one `--sandbox on`,
one `--sandbox off`. Beside them, the bare fork+exec cost of the same runtime, measured
in the same run by spawning (posix_spawn, from this small process) the same interpreter
with the same flags and environment the bootstrap gets, running a program that prints
one line; timed to the first byte on its stdout/stderr pipe:

  provided    the echo binary itself; without AWS_LAMBDA_RUNTIME_API its first act is
              to print a fatal message, i.e. it prints as soon as it starts
  python3.11  /usr/bin/python3 -S -c "print('ready')"   (the bootstrap's #! line)
  nodejs20.x  /usr/bin/node -e "..." with NODE_OPTIONS=--max-old-space-size as nimbus sets

How a cold start is forced: before each sample UpdateFunctionConfiguration changes an
environment variable, which retires the function's instance (each instance is also
retired right after its sample); the script then waits until neither server has a child
process left, so that the sample measures only the new instance's start: not the
teardown of an earlier one, nor the configuration write, nor a CreateFunction (a fresh
function per sample would add the unpacking of its code and a store write to nothing,
and leave hundreds of functions behind). Samples are interleaved (bare, sandbox off, sandbox
on, per runtime, per round) so that the box's changing load falls on every column alike.
Each invoke also reports the REPORT line's Init Duration (X-Amz-Log-Type: Tail): from
starting the process to the runtime's first GET /invocation/next.

Prints one JSON line per figure and appends them to <out>/results.jsonl and a markdown
table to <out>/results.md; every sample goes to <out>/raw.jsonl. Standard library only.
"""
import argparse
import base64
import json
import os
import re
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (Api, free_port, log, make_payload, percentile, pin, split_cpus,  # noqa: E402
                   wait_http, zip_dir)

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RUNTIMES = ["provided", "python3.11", "nodejs20.x"]
MODES = ["bare", "off", "on"]  # bare fork+exec, --sandbox off, --sandbox on
PROFILES = {"full": dict(samples=50), "quick": dict(samples=20)}
INIT_RE = re.compile(r"Init Duration: ([\d.]+) ms")


def loadavg():
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def child_pids(pid):
    """Children of every thread of pid (nimbus launches from several threads)."""
    out = []
    try:
        for tid in os.listdir(f"/proc/{pid}/task"):
            try:
                with open(f"/proc/{pid}/task/{tid}/children") as f:
                    out += [int(x) for x in f.read().split()]
            except OSError:
                pass
    except OSError:
        pass
    return out


class Server:
    """One `nimbus serve` with a data folder of its own."""

    def __init__(self, cfg, mode, tmp, binary=None, sandbox=None):
        self.cfg, self.mode = cfg, mode
        self.key = "BENCHKEY" + uuid.uuid4().hex[:12].upper()
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.port = free_port()
        self.data = os.path.join(tmp, f"data-{mode}")
        self.log_path = os.path.join(tmp, f"nimbus-{mode}.log")
        env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY_ID=self.key,
                   NIMBUS_ROOT_SECRET_ACCESS_KEY=self.secret)
        for k in ("NIMBUS_DATA", "NIMBUS_LISTEN", "NIMBUS_KEEP_ALIVE_SECONDS"):
            env.pop(k, None)
        cmd = [binary or cfg.nimbus_bin, "serve", "--listen", f"127.0.0.1:{self.port}",
               "--data", self.data, "--log-level", cfg.nimbus_log_level,
               "--sandbox", sandbox or mode,
               "--memory-budget-mb", str(max(1, 16 * cfg.memory_mb))]
        # A fresh copy of the runtimes per server, without __pycache__: what the runtime
        # compiles (or nimbus precompiles) is then each server's own doing, as in an
        # installation, and not left behind by the other server or an earlier run.
        runtimes = os.path.join(tmp, f"runtimes-{mode}")
        shutil.copytree(cfg.runtimes_dir or os.path.join(ROOT, "runtimes"), runtimes,
                        ignore=shutil.ignore_patterns("__pycache__"))
        cmd += ["--runtimes", runtimes]
        self.log_file = open(self.log_path, "w")
        self.proc = subprocess.Popen(cmd, env=env, preexec_fn=pin(cfg.server_cpu),
                                     stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_http(self.port, "/healthz", 30, method="GET")
        self.api = Api(self.port, f"Bearer {self.key}:{self.secret}")
        log(f"nimbus --sandbox {mode}: pid {self.proc.pid} on 127.0.0.1:{self.port}")

    def deploy(self, rt, files, handler):
        name = f"bench-cold-{rt.replace('.', '')}"
        body = {"FunctionName": name, "Runtime": rt, "Handler": handler,
                "Role": "arn:aws:iam::000000000000:role/bench", "MemorySize": self.cfg.memory_mb,
                "Timeout": 10, "Code": {"ZipFile": zip_dir(files)}}
        st, _, data = self.api.request("POST", "/2015-03-31/functions", body)
        if st != 201:
            raise RuntimeError(f"CreateFunction {name} ({self.mode}): {st} {data[:300]!r}")
        return name

    def settle(self, limit_s=5.0):
        """Waits until no instance process is left (every instance is retired right after
        its sample, so this waits for the last one's teardown)."""
        deadline = time.time() + limit_s
        while child_pids(self.proc.pid) and time.time() < deadline:
            time.sleep(0.005)
        time.sleep(0.02)  # the rest of the teardown (cgroup rmdir, /tmp volume back)

    def cold_invoke(self, name, payload, others=()):
        """(client ms to the first byte of the answer, Init Duration ms or None, error).
        others: the other servers, whose retired instances must be gone too (a dying
        instance of the other server would compete with this start for the CPU)."""
        self.api.update_env(name)
        for server in (self, *others):
            server.settle()
        api = self.api
        api.connect()
        h = {"Authorization": api.auth, "Content-Type": "application/json",
             "X-Amz-Log-Type": "Tail"}
        t0 = time.perf_counter()
        api.conn.request("POST", f"/2015-03-31/functions/{name}/invocations", payload, h)
        select.select([api.conn.sock], [], [], 60)
        first_byte = (time.perf_counter() - t0) * 1000
        r = api.conn.getresponse()
        data = r.read()
        # Retire the new instance at once: at rest the server then has no instance of any
        # function, which is what settle() waits for before the next sample.
        api.update_env(name)
        if r.status != 200 or r.getheader("X-Amz-Function-Error"):
            return None, None, f"status {r.status}, {r.getheader('X-Amz-Function-Error')}: " \
                               f"{data[:200]!r}"
        tail = base64.b64decode(r.getheader("X-Amz-Log-Result") or "").decode(errors="replace")
        m = INIT_RE.search(tail)
        return first_byte, float(m.group(1)) if m else None, None

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log_file.close()


def bare_commands(cfg):
    """Per runtime: (argv, env) of the bare start, as the bootstrap is started."""
    base_env = {"PATH": "/usr/local/bin:/usr/bin:/bin", "LANG": "en_US.UTF-8", "TZ": ":UTC",
                "HOME": "/tmp"}
    node_env = dict(base_env, NODE_OPTIONS=f"--max-old-space-size={cfg.memory_mb * 85 // 100}")
    return {
        "provided": ([cfg.provided_bootstrap], base_env),
        "python3.11": (["/usr/bin/python3", "-S", "-c", "print('ready')"], base_env),
        "nodejs20.x": (["/usr/bin/node", "-e", "process.stdout.write('ready\\n')"], node_env),
    }


def bare_start(cfg, argv, env):
    """ms from posix_spawn to the first byte the program writes (stdout or stderr)."""
    r, w = os.pipe()
    actions = [(os.POSIX_SPAWN_DUP2, w, 1), (os.POSIX_SPAWN_DUP2, w, 2),
               (os.POSIX_SPAWN_CLOSE, r)]
    # The child inherits this thread's affinity: the servers' CPU, just for the spawn.
    if cfg.server_cpu is not None:
        os.sched_setaffinity(0, {cfg.server_cpu})
    t0 = time.perf_counter()
    try:
        pid = os.posix_spawn(argv[0], argv, env, file_actions=actions)
    finally:
        if cfg.client_cpu is not None:
            os.sched_setaffinity(0, {cfg.client_cpu})
    os.close(w)
    try:
        ready, _, _ = select.select([r], [], [], 30)
        dt = (time.perf_counter() - t0) * 1000
        ok = bool(ready) and os.read(r, 64) != b""
    finally:
        os.close(r)
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        os.waitpid(pid, 0)
    return dt if ok else None


def stats(samples):
    return (percentile(samples, 50), percentile(samples, 99)) if samples else (None, None)


def fmt(v):
    return "n/a" if v is None else f"{v:.1f}"


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nimbus-bin", required=True)
    ap.add_argument("--provided-bootstrap", required=True)
    ap.add_argument("--runtimes-dir", default="")
    ap.add_argument("--samples", type=int, default=0, help="cold starts per runtime and mode")
    ap.add_argument("--runs", type=int, default=0, help="ignored (bench.py's option)")
    ap.add_argument("--memory-mb", type=int, default=1769)
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--nimbus-log-level", default="warn",
                    help="info shows NIMBUS_SANDBOX_TRACE's launch lines")
    ap.add_argument("--sandbox", default="", help="ignored: both modes are measured")
    ap.add_argument("--compare-bin", default="",
                    help="another nimbus (e.g. a build of the previous commit): adds a third "
                         "server, --sandbox on, as the column 'on (compared)'")
    cfg = ap.parse_args()
    cfg.profile = "quick" if cfg.quick else "full"
    if not cfg.samples:
        cfg.samples = PROFILES[cfg.profile]["samples"]
    split_cpus(cfg)
    os.makedirs(cfg.out, exist_ok=True)
    modes = list(MODES)
    if cfg.compare_bin:
        modes.append("cmp")
    findings = []
    if os.geteuid() != 0:
        modes = [m for m in modes if m not in ("on", "cmp")]
        findings.append("not root: no sandbox, so the `--sandbox on` column is missing")

    load_before = loadavg()
    log(f"cold starts: {cfg.samples} per runtime x {modes}; load average {load_before}")
    tmp = tempfile.mkdtemp(prefix="nimbus-coldstart-")
    servers, names = {}, {}
    payload = make_payload(1024)
    samples = {(rt, m, k): [] for rt in RUNTIMES for m in modes for k in ("client", "init")}
    failures = {}
    bare = bare_commands(cfg)
    loads = []
    t_start = time.time()
    try:
        specs = {
            "provided": ([("bootstrap", cfg.provided_bootstrap, True)], "echo"),
            "python3.11": ([("app.py", os.path.join(HERE, "functions", "python", "app.py"),
                             False)], "app.handler"),
            "nodejs20.x": ([("index.mjs", os.path.join(HERE, "functions", "node", "index.mjs"),
                             False)], "index.handler"),
        }
        for m in modes:
            if m == "bare":
                continue
            if m == "cmp":
                servers[m] = Server(cfg, m, tmp, binary=cfg.compare_bin, sandbox="on")
            else:
                servers[m] = Server(cfg, m, tmp)
            for rt in RUNTIMES:
                names[(m, rt)] = servers[m].deploy(rt, *specs[rt])
                servers[m].cold_invoke(names[(m, rt)], payload)  # warms the page cache
        for rt in RUNTIMES:
            bare_start(cfg, *bare[rt])
        for i in range(cfg.samples):
            for rt in RUNTIMES:
                for m in modes:
                    if m == "bare":
                        dt, init, err = bare_start(cfg, *bare[rt]), None, None
                        if dt is None:
                            err = "printed nothing"
                    else:
                        others = [s for k, s in servers.items() if k != m]
                        dt, init, err = servers[m].cold_invoke(names[(m, rt)], payload, others)
                    if err:
                        failures[(rt, m)] = failures.get((rt, m), 0) + 1
                        findings.append(f"{rt} {m}: {err}")
                        continue
                    samples[(rt, m, "client")].append(dt)
                    if init is not None:
                        samples[(rt, m, "init")].append(init)
                    elif m != "bare":
                        findings.append(f"{rt} sandbox {m}: no Init Duration (not cold?)")
            if i % 10 == 9:
                loads.append(os.getloadavg()[0])
                log(f"{i + 1}/{cfg.samples} rounds; load {loadavg()}")
    finally:
        for s in servers.values():
            s.stop()
        for m, s in servers.items():
            try:
                shutil.copy(s.log_path, os.path.join(cfg.out, f"nimbus-coldstart-{m}.log"))
            except OSError:
                pass
        shutil.rmtree(tmp, ignore_errors=True)
    load_after = loadavg()

    # ---- figures
    figures = []
    with open(os.path.join(cfg.out, "raw.jsonl"), "a") as raw:
        for (rt, m, kind), vals in samples.items():
            raw.write(json.dumps({"phase": "coldstart", "runtime": rt, "mode": m, "kind": kind,
                                  "samples_ms": [round(v, 3) for v in vals]}) + "\n")
    label = {"bare": "bare_fork_exec", "off": "sandbox_off", "on": "sandbox_on",
             "cmp": "compared_sandbox_on"}
    table = {}
    for rt in RUNTIMES:
        for m in modes:
            kinds = ["client"] if m == "bare" else ["client", "init"]
            for kind in kinds:
                vals = samples[(rt, m, kind)]
                p50, p99 = stats(vals)
                table[(rt, m, kind)] = (p50, p99, len(vals))
                for stat, v in (("p50", p50), ("p99", p99)):
                    metric = f"{label[m]}_{'first_byte' if kind == 'client' else 'init'}_{stat}"
                    figures.append({"bench": "coldstart", "runtime": rt, "mode": m,
                                    "metric": metric, "value": None if v is None else round(v, 3),
                                    "unit": "ms", "runs": 1, "samples": len(vals),
                                    "baseline": None, "failures": failures.get((rt, m), 0),
                                    "load_before": load_before, "load_after": load_after})
        if "on" in modes:
            on, off = table[(rt, "on", "client")][0], table[(rt, "off", "client")][0]
            figures.append({"bench": "coldstart", "runtime": rt, "mode": "on-off",
                            "metric": "sandbox_overhead_first_byte_p50",
                            "value": None if on is None or off is None else round(on - off, 3),
                            "unit": "ms", "runs": 1, "samples": cfg.samples, "baseline": None})
    with open(os.path.join(cfg.out, "results.jsonl"), "a") as f:
        for rec in figures:
            line = json.dumps(rec)
            print(line, flush=True)
            f.write(line + "\n")

    # ---- table
    lines = [f"## Cold starts (`coldstart` phase, {cfg.samples} per runtime and mode)", ""]
    lines.append(f"- load average before / after: {load_before} / {load_after} (1-min samples "
                 f"during the run: {', '.join(f'{x:.1f}' for x in loads) or 'n/a'}; "
                 f"{os.cpu_count()} CPUs); {time.time() - t_start:.0f} s")
    lines.append(f"- MemorySize {cfg.memory_mb} MB; "
                 + (f"servers and spawns pinned to CPU {cfg.server_cpu}, client on CPU "
                    f"{cfg.client_cpu}" if cfg.server_cpu is not None else "no pinning"))
    lines.append("- first byte: invoke sent to the first byte of the answer (client); "
                 "Init: the REPORT line's Init Duration; bare: posix_spawn to the first byte "
                 "the same runtime prints; cold starts forced by UpdateFunctionConfiguration, "
                 "the previous instance torn down before each sample")
    if cfg.compare_bin:
        lines.append(f"- on (compared): `{cfg.compare_bin} serve --sandbox on`, interleaved with "
                     "the others")
    lines.append("- p50 / p99 in ms")
    lines.append("")
    head = ["runtime", "bare fork+exec"]
    if "off" in modes:
        head += ["sandbox off: first byte", "sandbox off: Init"]
    if "on" in modes:
        head += ["sandbox on: first byte", "sandbox on: Init", "sandbox adds (p50)"]
    if "cmp" in modes:
        head += ["on (compared): first byte", "on (compared): Init", "compared adds (p50)"]
    lines.append("| " + " | ".join(head) + " |")
    lines.append("|" + "---|" * len(head))
    for rt in RUNTIMES:
        cells = [rt]
        for m, kind in (("bare", "client"), ("off", "client"), ("off", "init"),
                        ("on", "client"), ("on", "init")):
            if m not in modes:
                continue
            p50, p99, _ = table[(rt, m, kind)]
            cells.append(f"{fmt(p50)} / {fmt(p99)}")
        if "on" in modes:
            on, off = table[(rt, "on", "client")][0], table[(rt, "off", "client")][0]
            cells.append("n/a" if on is None or off is None else f"{on - off:+.1f}")
        if "cmp" in modes:
            for kind in ("client", "init"):
                p50, p99, _ = table[(rt, "cmp", kind)]
                cells.append(f"{fmt(p50)} / {fmt(p99)}")
            on, off = table[(rt, "cmp", "client")][0], table[(rt, "off", "client")][0]
            cells.append("n/a" if on is None or off is None else f"{on - off:+.1f}")
        lines.append("| " + " | ".join(cells) + " |")
    lines.append("")
    uniq = sorted(set(findings))
    lines.append("Findings: " + ("; ".join(uniq[:20]) if uniq else "none") + ".")
    text = "\n".join(lines) + "\n"
    with open(os.path.join(cfg.out, "results.md"), "a") as f:
        f.write("\n" + text)
    print()
    print(text)


if __name__ == "__main__":
    main()
