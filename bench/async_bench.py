#!/usr/bin/python3
"""nimbus async benchmark, phase `async` of bench/run.sh (which builds what it needs).

Starts `nimbus serve` (the way bench.py does: loopback port, temporary data folder, root
credentials from the environment), deploys the `provided` echo function with its
OnSuccess destination a nimbus queue, and per run submits N events
(`X-Amz-Invocation-Type: Event`) from C client threads, each on one kept-alive
connection. Figures (median of the runs):

  accept_rps_cC           events answered 202 per second (first request to last 202)
  accept_latency_p50/p99  per-request latency of those 202s (ms)
  delivery_rps_cC         end-to-end: N / (first request -> the N-th record in the
                          OnSuccess queue), i.e. accepted, run and recorded
  drain_s                 seconds from the last 202 until the queue held all N

Prints one JSON line per figure (the format of bench.py's results.jsonl) and appends
them to <out>/results.jsonl and a table to <out>/results.md. Standard library only.
"""
import argparse
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import (Api, free_port, log, percentile, pin, split_cpus,  # noqa: E402
                   wait_http, zip_dir)

PROFILES = {"full": dict(runs=5, events=5000, clients=16),
            "quick": dict(runs=3, events=2000, clients=16)}
FUNCTION = "bench-async-echo"
QUEUE = "bench-async-ok"


class AsyncBench:
    def __init__(self, cfg):
        self.cfg = cfg
        self.tmp = tempfile.mkdtemp(prefix="nimbus-async-bench-")
        self.key = "BENCHKEY" + uuid.uuid4().hex[:12].upper()
        self.secret = uuid.uuid4().hex + uuid.uuid4().hex[:8]
        self.auth = f"Bearer {self.key}:{self.secret}"
        self.nimbus = None
        self.records = []
        self.findings = []

    # ----------------------------------------------------------------- server

    def start_nimbus(self):
        self.port = free_port()
        env = dict(os.environ, NIMBUS_ROOT_ACCESS_KEY_ID=self.key,
                   NIMBUS_ROOT_SECRET_ACCESS_KEY=self.secret)
        for k in ("NIMBUS_DATA", "NIMBUS_LISTEN", "NIMBUS_KEEP_ALIVE_SECONDS"):
            env.pop(k, None)
        cmd = [self.cfg.nimbus_bin, "serve", "--listen", f"127.0.0.1:{self.port}",
               "--data", os.path.join(self.tmp, "data"), "--log-level", self.cfg.nimbus_log_level,
               "--memory-budget-mb", str(max(1, 160 * self.cfg.memory_mb))]
        if self.cfg.sandbox:
            cmd += ["--sandbox", self.cfg.sandbox]
        self.log_path = os.path.join(self.tmp, "nimbus.log")
        self.log_file = open(self.log_path, "w")
        self.nimbus = subprocess.Popen(cmd, env=env, preexec_fn=pin(self.cfg.server_cpu),
                                       stdout=self.log_file, stderr=subprocess.STDOUT)
        wait_http(self.port, "/healthz", 20, method="GET")
        self.api = Api(self.port, self.auth)
        log(f"nimbus {self.nimbus.pid} on 127.0.0.1:{self.port}")

    def stop(self):
        if self.nimbus and self.nimbus.poll() is None:
            self.nimbus.send_signal(signal.SIGTERM)
            try:
                rc = self.nimbus.wait(timeout=40)
                if rc != 0:
                    self.finding(f"nimbus exited with status {rc} on SIGTERM")
            except subprocess.TimeoutExpired:
                self.finding("nimbus did not stop within 40 s of SIGTERM; killed")
                self.nimbus.kill()
                self.nimbus.wait()

    def finding(self, text):
        if text not in self.findings:
            self.findings.append(text)
            log("FINDING: " + text)

    def call(self, method, path, body=None, want=(200,)):
        st, _, data = self.api.request(method, path, body)
        if st not in want:
            raise RuntimeError(f"{method} {path}: {st} {data[:300]!r}")
        return json.loads(data) if data else None

    def deploy(self):
        self.call("POST", "/v1/queues", {"Name": QUEUE}, want=(201,))
        arn = self.call("GET", f"/v1/queues/{QUEUE}")["Arn"]
        self.call("POST", "/2015-03-31/functions",
                  {"FunctionName": FUNCTION, "Runtime": "provided", "Handler": "echo",
                   "Role": "arn:aws:iam::000000000000:role/bench", "Timeout": 10,
                   "MemorySize": self.cfg.memory_mb,
                   "Code": {"ZipFile": zip_dir([("bootstrap", self.cfg.provided_bootstrap,
                                                 True)])}}, want=(201,))
        deadline = time.time() + 30
        while self.call("GET", f"/2015-03-31/functions/{FUNCTION}/configuration").get(
                "State", "Active") != "Active":
            if time.time() > deadline:
                raise RuntimeError(f"{FUNCTION} did not become Active")
            time.sleep(0.1)
        self.call("PUT", f"/2019-09-25/functions/{FUNCTION}/event-invoke-config",
                  {"MaximumRetryAttempts": 0,
                   "DestinationConfig": {"OnSuccess": {"Destination": arn}}})
        # One synchronous call starts an instance, so run 1 does not measure a cold start.
        self.call("POST", f"/2015-03-31/functions/{FUNCTION}/invocations", {"warm": True})

    # ----------------------------------------------------------------- one run

    def depth(self, api):
        st, _, data = api.request("GET", f"/v1/queues/{QUEUE}")
        if st != 200:
            raise RuntimeError(f"GET queue: {st} {data[:200]!r}")
        return json.loads(data)["Depth"]

    def one_run(self, n, clients):
        self.call("DELETE", f"/v1/queues/{QUEUE}/messages")
        payload = json.dumps({"bench": "async", "pad": "x" * 200}).encode()
        path = f"/2015-03-31/functions/{FUNCTION}/invocations"
        latencies, errors = [], []
        lock = threading.Lock()
        last_202 = [0.0]
        go = threading.Event()

        def worker(k):
            api = Api(self.port, self.auth)
            api.connect()
            mine, bad = [], []
            go.wait()
            for _ in range(k, n, clients):
                t = time.perf_counter()
                try:
                    st, _, data = api.request("POST", path, payload,
                                              {"X-Amz-Invocation-Type": "Event"})
                except OSError as e:
                    bad.append(repr(e))
                    continue
                if st == 202:
                    mine.append(time.perf_counter() - t)
                else:
                    bad.append(f"{st} {data[:100]!r}")
            end = time.perf_counter()
            api.close()
            with lock:
                latencies.extend(mine)
                errors.extend(bad)
                last_202[0] = max(last_202[0], end)

        threads = [threading.Thread(target=worker, args=(k,)) for k in range(clients)]
        for t in threads:
            t.start()
        poll = Api(self.port, self.auth)
        t0 = time.perf_counter()
        go.set()
        for t in threads:
            t.join()
        t_accepted = last_202[0]
        accepted = len(latencies)
        deadline = time.perf_counter() + max(60.0, n / 20)
        got = 0
        while time.perf_counter() < deadline:
            got = self.depth(poll)
            if got >= accepted:
                break
            time.sleep(0.02)
        t_done = time.perf_counter()
        poll.close()
        if errors:
            self.finding(f"{len(errors)} of {n} async invokes not answered 202, e.g. {errors[0]}")
        if got < accepted:
            self.finding(f"only {got} of {accepted} events reached the OnSuccess queue in time")
            return None
        if got > accepted:
            self.finding(f"{got - accepted} more records than accepted events (duplicates)")
        accept_s = t_accepted - t0
        return {"accept_rps": accepted / accept_s,
                "accept_latency_p50": percentile(latencies, 50) * 1000,
                "accept_latency_p99": percentile(latencies, 99) * 1000,
                "delivery_rps": accepted / (t_done - t0),
                "drain_s": t_done - t_accepted,
                "accepted": accepted}

    def wait_idle(self):
        deadline = time.time() + 60
        while time.time() < deadline:
            ev = self.call("GET", f"/v1/functions/{FUNCTION}/async-events")
            if ev.get("queued", 0) == 0 and ev.get("running", 0) == 0:
                return
            time.sleep(0.1)
        self.finding("async events still queued 60 s after a run")

    # ----------------------------------------------------------------- figures

    def add(self, metric, samples, unit):
        samples = [s for s in samples if s is not None]
        rec = {"bench": "async", "runtime": "provided", "metric": metric,
               "value": round(statistics.median(samples), 3) if samples else None,
               "unit": unit, "runs": len(samples), "baseline": None,
               "samples": [round(s, 3) for s in samples],
               "events": self.cfg.events, "clients": self.cfg.clients}
        self.records.append(rec)
        print(json.dumps(rec), flush=True)

    def run(self):
        c = self.cfg
        runs = []
        try:
            self.start_nimbus()
            self.deploy()
            for i in range(c.runs):
                r = self.one_run(c.events, c.clients)
                self.wait_idle()
                if r is None:
                    continue
                log(f"async run {i + 1}/{c.runs}: accept {r['accept_rps']:.0f}/s "
                    f"(p99 {r['accept_latency_p99']:.1f} ms), delivery {r['delivery_rps']:.0f}/s")
                runs.append(r)
        except Exception as e:  # report what we have
            self.finding(f"async benchmark aborted: {type(e).__name__}: {e}")
        finally:
            self.stop()
        cc = f"c{c.clients}"
        self.add(f"accept_rps_{cc}", [r["accept_rps"] for r in runs], "events/s")
        self.add(f"accept_latency_p50_{cc}", [r["accept_latency_p50"] for r in runs], "ms")
        self.add(f"accept_latency_p99_{cc}", [r["accept_latency_p99"] for r in runs], "ms")
        self.add(f"delivery_rps_{cc}", [r["delivery_rps"] for r in runs], "events/s")
        self.add(f"drain_s_{cc}", [r["drain_s"] for r in runs], "s")
        self.write_out()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def write_out(self):
        os.makedirs(self.cfg.out, exist_ok=True)
        with open(os.path.join(self.cfg.out, "results.jsonl"), "a") as f:
            for rec in self.records:
                f.write(json.dumps(rec) + "\n")
        lines = ["", f"## async ({self.cfg.events} events, {self.cfg.clients} clients, "
                 f"`provided` echo, OnSuccess -> a nimbus queue; median of "
                 f"{self.cfg.runs} runs)", "", "| figure | unit | value | samples |",
                 "|---|---|---|---|"]
        for rec in self.records:
            lines.append(f"| {rec['metric']} | {rec['unit']} | {rec['value']} | "
                         f"{', '.join(str(s) for s in rec['samples'])} |")
        for f in self.findings:
            lines.append(f"- finding: {f}")
        text = "\n".join(lines) + "\n"
        with open(os.path.join(self.cfg.out, "results.md"), "a") as f:
            f.write(text)
        print(text)


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--out", required=True)
    ap.add_argument("--nimbus-bin", required=True)
    ap.add_argument("--provided-bootstrap", required=True)
    ap.add_argument("--runs", type=int, default=0, help="override the number of runs")
    ap.add_argument("--events", type=int, default=0, help="events per run (N)")
    ap.add_argument("--clients", type=int, default=0, help="concurrent clients (C)")
    ap.add_argument("--no-pin", action="store_true")
    ap.add_argument("--nimbus-log-level", default="info")
    ap.add_argument("--memory-mb", type=int, default=1769)
    ap.add_argument("--sandbox", default="")
    cfg = ap.parse_args()
    profile = PROFILES["quick" if cfg.quick else "full"]
    for k, v in profile.items():
        if not getattr(cfg, k):
            setattr(cfg, k, v)
    split_cpus(cfg)

    def on_term(*_):
        raise KeyboardInterrupt()

    signal.signal(signal.SIGTERM, on_term)
    AsyncBench(cfg).run()


if __name__ == "__main__":
    main()
