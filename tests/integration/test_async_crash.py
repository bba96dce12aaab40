"""The crash test of issue 5: 5,000 async events to a `provided` echo function whose
OnSuccess destination is a queue (OnFailure: a DLQ queue), `kill -9` of nimbus while
they are being delivered, a restart on the same data folder, and then every accepted
request id must be in the success queue or the DLQ at least once (duplicates allowed,
counted and reported through record_property)."""
from __future__ import annotations

import collections
import os
import shutil
import signal
import subprocess
import threading
import time

import pytest
import requests

import nimbus_helpers as h
from conftest import ApiSession, _stop, make_lambda_client, start_server
from test_queues import create_queue, get_queue, record_of, serve_on

EVENTS = 5000
CLIENTS = 8
KILL_AFTER = 1000  # deliveries seen in the success queue
WAIT_S = 180
# A few delivery workers are plenty on two cores, and keep the instance count sane.
SERVE_FLAGS = ("--async-workers", "8", "--async-retry-base-ms", "200",
               "--async-retry-cap-ms", "1000", "--async-throttle-delay-ms", "100")


@pytest.fixture(scope="module")
def echo_zip(tmp_path_factory) -> bytes:
    """The C++ echo bootstrap of examples/echo-provided-cpp when g++ is there (fast: no
    process per event), else the curl-based one of functions/provided."""
    build = h.REPO_ROOT / "examples" / "echo-provided-cpp" / "build.sh"
    if shutil.which(os.environ.get("CXX", "g++")):
        out = tmp_path_factory.mktemp("echo-cpp") / "bootstrap"
        p = subprocess.run(["sh", str(build), str(out)], capture_output=True, text=True,
                           timeout=300)
        if p.returncode == 0:
            return h.zip_files({"bootstrap": (out.read_bytes(), 0o755)})
    return h.function_zip("provided")


def submit_all(srv, name: str, accepted: list, refused: list,
               stop: threading.Event) -> list[threading.Thread]:
    """CLIENTS threads, each with a kept-alive session, submit EVENTS events between them;
    every 202's request id goes to `accepted` (in submission order per thread)."""
    url = f"{srv.url}/2015-03-31/functions/{name}/invocations"

    def worker(k: int) -> None:
        with requests.Session() as s:
            s.headers.update({"Authorization": srv.bearer, "X-Amz-Invocation-Type": "Event"})
            for i in range(k, EVENTS, CLIENTS):
                if stop.is_set():
                    return
                try:
                    r = s.post(url, data=f'{{"i":{i}}}', timeout=30)
                except requests.RequestException as e:
                    refused.append((i, repr(e)))
                    if not srv.alive():
                        return  # killed: the rest is never sent
                    continue
                if r.status_code == 202:
                    accepted.append(r.headers["x-amzn-RequestId"])
                else:
                    refused.append((i, r.status_code))

    threads = [threading.Thread(target=worker, args=(k,), daemon=True) for k in range(CLIENTS)]
    for t in threads:
        t.start()
    return threads


def request_ids(api: ApiSession, queue: str) -> list[str]:
    """requestContext.requestId of every message in a queue (paged peek)."""
    ids, after = [], None
    while True:
        params = {"limit": "100"}
        if after:
            params["after"] = after
        r = api.get(f"/v1/queues/{queue}/messages", params=params, timeout=60)
        assert r.status_code == 200, r.text
        page = r.json()
        ids.extend(record_of(m)["requestContext"]["requestId"] for m in page["Messages"])
        after = page.get("NextAfter")
        if not after:
            return ids


def test_every_accepted_event_survives_kill_9(tmp_path_factory, echo_zip, record_property):
    work = tmp_path_factory.mktemp("nimbus-async-crash")
    first = start_server(work, SERVE_FLAGS)
    second = None
    api = ApiSession(first.url, first.bearer)
    lam = make_lambda_client(first)
    t_start = time.monotonic()
    try:
        ok, dlq = create_queue(api), create_queue(api)
        name = h.unique_name("crash-echo")
        lam.create_function(FunctionName=name, Runtime="provided", Role=h.ROLE,
                            Handler="echo", Timeout=10, Code={"ZipFile": echo_zip})
        h.wait_ready(lam, name)
        lam.put_function_event_invoke_config(
            FunctionName=name, MaximumRetryAttempts=2,
            DestinationConfig={"OnSuccess": {"Destination": ok["Arn"]},
                               "OnFailure": {"Destination": dlq["Arn"]}})

        accepted, refused = [], []
        stop = threading.Event()
        threads = submit_all(first, name, accepted, refused, stop)
        h.wait_until(lambda: get_queue(api, ok["Name"])["Depth"] >= KILL_AFTER, 120,
                     f"{KILL_AFTER} deliveries before the kill", interval=0.1)
        instances = h.descendants(first.pid)
        first.proc.send_signal(signal.SIGKILL)
        first.proc.wait()
        t_kill = time.monotonic()
        for t in threads:
            t.join(timeout=60)
        stop.set()
        # Instances the killed server left behind would only slow the rest down.
        time.sleep(0.5)
        for pid, starttime in instances:
            if h.is_alive(pid, starttime):
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        api.close()
        lam.close()
        accepted_set = set(accepted)
        assert len(accepted_set) == len(accepted), "two 202s with one request id"
        assert len(accepted) >= KILL_AFTER
        print(f"accepted {len(accepted)} events, {len(refused)} not acknowledged "
              f"(sent when the server died)")

        second = serve_on(first.data_dir, first.secret_key, work, SERVE_FLAGS)
        api = ApiSession(second.url, second.bearer)
        done_before_restart = None

        def accounted():
            nonlocal done_before_restart
            total = get_queue(api, ok["Name"])["Depth"] + get_queue(api, dlq["Name"])["Depth"]
            if done_before_restart is None:
                done_before_restart = total
            return total >= len(accepted)

        h.wait_until(accounted, WAIT_S, "success + DLQ depth to account for every event",
                     interval=0.5)
        assert done_before_restart < len(accepted), "all were delivered before the kill"
        # Depth counts duplicates; wait on the ids themselves (a bounded extra wait).
        deadline = time.monotonic() + 60
        while True:
            succeeded = request_ids(api, ok["Name"])
            dead = request_ids(api, dlq["Name"])
            missing = accepted_set - set(succeeded) - set(dead)
            if not missing or time.monotonic() > deadline:
                break
            time.sleep(2)
        counts = collections.Counter(succeeded + dead)
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        unknown = set(counts) - accepted_set
        record_property("accepted", len(accepted))
        record_property("duplicates", duplicates)
        record_property("dead", len(dead))
        record_property("seconds", round(time.monotonic() - t_start, 1))
        print(f"crash test: {len(accepted)} accepted, {len(succeeded)} success records, "
              f"{len(dead)} DLQ records, {duplicates} duplicates, {len(missing)} missing; "
              f"killed after {t_kill - t_start:.1f} s, total {time.monotonic() - t_start:.1f} s")
        assert not missing, f"{len(missing)} accepted events lost, e.g. {sorted(missing)[:5]}"
        # Only events sent when the server died may be there without a 202.
        assert len(unknown) <= len(refused), f"{len(unknown)} records of events never sent"
    finally:
        api.close()
        if first.alive():
            first.proc.kill()
            first.proc.wait()
        if second is not None:
            _stop(second, check=True)
