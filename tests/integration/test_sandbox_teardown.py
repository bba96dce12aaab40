"""Clean teardown (issue 3 item 7): after 1,000 sandboxed instance lifecycles nothing is
left behind (process, instance cgroup, /tmp mount, loop device, scratch folder), a
stopped nimbus leaves nothing at all, and a nimbus restarted after `kill -9` cleans up
what the killed one left."""
import concurrent.futures
import hashlib
import os
import signal
import time
from pathlib import Path

import pytest

import nimbus_helpers as h
from conftest import _stop, make_lambda_client, serve_on, start_server

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="the sandbox needs root")

CGROUP_ROOT = Path("/sys/fs/cgroup")

# One invocation per instance: the bootstrap answers one event and exits, so every
# invoke is a whole lifecycle (start, run, exit, teardown).
ONE_SHOT_BOOTSTRAP = """#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
curl -sS -D /tmp/headers -o /tmp/event "$api/invocation/next"
rid=$(grep -i '^lambda-runtime-aws-request-id:' /tmp/headers | cut -d' ' -f2 | tr -d '\\r')
echo "lifecycle $rid" > /tmp/mark
curl -sS -X POST -d '{"done":true}' "$api/invocation/$rid/response" >/dev/null
exit 0
"""

# Lives on between invocations; sleeps on request (to be busy when nimbus is killed).
LONG_LIVED_BOOTSTRAP = """#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while true; do
  curl -sS -D /tmp/headers -o /tmp/event "$api/invocation/next"
  rid=$(grep -i '^lambda-runtime-aws-request-id:' /tmp/headers | cut -d' ' -f2 | tr -d '\\r')
  if grep -q sleep /tmp/event; then sleep 30; fi
  curl -sS -X POST -d '{"ok":true}' "$api/invocation/$rid/response" >/dev/null
done
"""


def cgroup_parents(data_dir: Path) -> list[Path]:
    """This data folder's cgroup parent in every hierarchy (v1 controllers or v2)."""
    name = "nimbus-" + hashlib.sha256(os.path.realpath(data_dir).encode()).hexdigest()[:12]
    return [p for p in CGROUP_ROOT.glob(f"**/{name}") if p.is_dir()]


def instance_cgroups(data_dir: Path) -> list[Path]:
    return [child for parent in cgroup_parents(data_dir) for child in parent.iterdir()
            if child.is_dir()]


def _is_nimbus_server(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip() == "nimbus"
    except OSError:
        return False


def cgroup_processes(data_dir: Path) -> set[int]:
    """Processes in this data folder's cgroups. nimbus itself is not one: on cgroup v1 its
    launch threads wait in the parent group between launches (they step into an instance's
    group only for the clone, so that the child is born there), so the parent's own
    cgroup.procs lists the server; any process in an instance group counts."""
    pids = set()
    for parent in cgroup_parents(data_dir):
        for procs in parent.glob("**/cgroup.procs"):
            try:
                found = {int(line) for line in procs.read_text().split()}
            except OSError:
                continue  # the cgroup went away while we read it
            if procs.parent == parent:
                found = {pid for pid in found if not _is_nimbus_server(pid)}
            pids.update(found)
    return pids


def mounts_under(path: Path) -> list[str]:
    prefix = os.path.realpath(path)
    with open("/proc/self/mountinfo") as f:
        return [line.split()[4] for line in f if line.split()[4].startswith(prefix)]


def loop_devices_for(path: Path) -> list[str]:
    prefix = os.path.realpath(path)
    found = []
    for backing in Path("/sys/block").glob("loop*/loop/backing_file"):
        try:
            if backing.read_text().strip().startswith(prefix):
                found.append(backing.parent.parent.name)
        except OSError:
            pass
    return found


def scratch_entries(data_dir: Path) -> list[str]:
    scratch = data_dir / "scratch"
    if not scratch.exists():
        return []
    return [str(p.relative_to(scratch)) for p in scratch.rglob("*") if not p.is_dir()]


def leftovers(data_dir: Path) -> dict:
    return {
        "instance_cgroups": [str(p) for p in instance_cgroups(data_dir)],
        "processes": sorted(cgroup_processes(data_dir)),
        "mounts": mounts_under(data_dir),
        "loop_devices": loop_devices_for(data_dir),
    }


def assert_nothing_left(data_dir: Path, parents_too: bool):
    def clean():
        left = leftovers(data_dir)
        if parents_too:
            left["cgroup_parents"] = [str(p) for p in cgroup_parents(data_dir)]
            left["scratch_files"] = scratch_entries(data_dir)
        return left if any(left.values()) else None

    deadline = time.monotonic() + 10
    left = clean()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = clean()
    assert not left, f"left behind: {left}"


def deploy(lam, name: str, bootstrap: str, timeout: int = 10):
    lam.create_function(FunctionName=name, Runtime="provided.al2023", Handler="x",
                        Role="arn:aws:iam::000000000000:role/x", Timeout=timeout,
                        Code={"ZipFile": h.zip_files({"bootstrap": (bootstrap, 0o755)})})
    h.wait_ready(lam, name)


@pytest.fixture
def sandboxed_server(tmp_path_factory):
    started = []

    def start(work=None, *flags):
        work = work or tmp_path_factory.mktemp("teardown")
        srv = start_server(work, ("--sandbox", "on", *flags))
        started.append(srv)
        return srv

    yield start
    for srv in started:
        _stop(srv, check=False)


def test_a_thousand_lifecycles_leave_nothing_behind(sandboxed_server):
    srv = sandboxed_server()
    lam = make_lambda_client(srv)
    name = h.unique_name("oneshot")
    deploy(lam, name, ONE_SHOT_BOOTSTRAP)

    def invoke(_):
        # The instance exits right after answering; an invoke that races with that
        # exit is told Runtime.ExitError (HTTP 200, function error), which also ends
        # an instance.
        return lam.invoke(FunctionName=name, Payload=b"{}")["StatusCode"]

    def lifecycles():
        return srv.log_text().count('"msg":"instance exited"')

    invokes = 0
    with concurrent.futures.ThreadPoolExecutor(max_workers=4) as pool:
        while lifecycles() < 1000 and invokes < 3000:
            statuses = list(pool.map(invoke, range(100)))
            assert statuses == [200] * 100
            invokes += 100
    assert lifecycles() >= 1000, f"only {lifecycles()} lifecycles in {invokes} invokes"
    assert srv.alive()

    # While nimbus runs: every instance is gone with its cgroup, /tmp mount and loop
    # device; only the ready pool of formatted /tmp volumes stays mounted.
    def settled():
        left = leftovers(srv.data_dir)
        return not left["instance_cgroups"] and not left["processes"]

    h.wait_until(settled, 10, "instances to end")
    left = leftovers(srv.data_dir)
    assert len(left["mounts"]) <= 8, left["mounts"]  # the pool of ready volumes
    assert len(left["loop_devices"]) <= 8, left["loop_devices"]
    # After a stop, nothing at all: not even the cgroup parents or the ready volumes.
    _stop(srv, check=True)
    assert_nothing_left(srv.data_dir, parents_too=True)


def test_restart_after_kill_9_cleans_up_what_the_killed_one_left(sandboxed_server,
                                                                  tmp_path_factory):
    work = tmp_path_factory.mktemp("killed")
    srv = sandboxed_server(work)
    lam = make_lambda_client(srv)
    name = h.unique_name("longlived")
    deploy(lam, name, LONG_LIVED_BOOTSTRAP, timeout=60)

    # Five idle instances and three busy ones when the server dies.
    with concurrent.futures.ThreadPoolExecutor(max_workers=5) as pool:
        list(pool.map(lambda _: lam.invoke(FunctionName=name, Payload=b"{}"), range(5)))
    busy = concurrent.futures.ThreadPoolExecutor(max_workers=3)
    for _ in range(3):
        busy.submit(lambda: lam.invoke(FunctionName=name, Payload=b'{"sleep":1}'))
    h.wait_until(lambda: len(instance_cgroups(srv.data_dir)) >= 6, 20, "instances to start")

    os.kill(srv.pid, signal.SIGKILL)
    srv.proc.wait()
    busy.shutdown(wait=False, cancel_futures=True)
    # The instances die with their server (parent-death signal and the init in each).
    h.wait_until(lambda: not cgroup_processes(srv.data_dir), 10, "instances to die with nimbus")
    assert instance_cgroups(srv.data_dir) or mounts_under(srv.data_dir), \
        "the kill should have left something for the restart to clean"

    # A restart on the same data folder removes the killed run's cgroups, mounts and
    # loop devices, and serves again.
    again = serve_on(srv.data_dir, srv.secret_key, work, ("--sandbox", "on"))
    try:
        h.wait_until(lambda: not instance_cgroups(again.data_dir), 10,
                     "the killed run's instance cgroups to go")
        assert len(mounts_under(again.data_dir)) <= 8
        lam2 = make_lambda_client(again)
        assert h.payload_json(lam2.invoke(FunctionName=name, Payload=b"{}")) == {"ok": True}
    finally:
        _stop(again, check=True)
    assert_nothing_left(again.data_dir, parents_too=True)
