"""CPU in proportion to memory, as in Lambda: 1769 MB gets one full core (a CFS quota), so a
CPU-bound function at 1769 MB gets about twice the CPU time per second of one at 885 MB.

The functions run one after the other, never together. The machine has 2 cores and other
tenants, so a busy moment can leave the 1769 MB function less than its core: the ratio is
asserted only for a pair in which the bigger function got most of its core (retrying a
few pairs within a time budget); the quotas themselves (never more than the share) are
asserted for every run. When the host stays too busy for the ratio to mean anything, the
test falls back to the quotas nimbus configured in the instances' cgroups (read on the
host) and says so. Runs only as root: without root there is no sandbox.
"""
import json
import os
import re
import time
import warnings
from pathlib import Path

import pytest

import nimbus_helpers as h

if os.geteuid() != 0:
    pytest.skip("the sandbox (and its CPU quota) needs root", allow_module_level=True)

PY = "python3.11"
BURN_SECONDS = 1.5
FULL_CORE_MB = 1769
# A pair counts only when the 1769 MB function got at least this share of a core: below it
# the host was too busy for the ratio to say anything about the quotas.
UNCONTENDED_SHARE = 0.85
BUDGET_SECONDS = 8


def instance_ids(server, function_name):
    ids = []
    for line in server.log_text().splitlines():
        if '"instance started"' in line:
            entry = json.loads(line)
            if entry.get("function") == function_name:
                ids.append(entry["instance"])
    return ids


def configured_cores(server, sandbox_line, function_name):
    """The CPU quota of the function's latest instance, in cores, read from its cgroup."""
    m = re.search(r"cpu at (/[^,;)\s]+)", sandbox_line)
    if not m:
        pytest.skip(f"no cpu cgroup named in the start-up line: {sandbox_line}")
    ids = instance_ids(server, function_name)
    assert ids, f"no instance of {function_name} in the log"
    folder = Path(m.group(1)) / ids[-1]
    if (folder / "cpu.max").exists():  # cgroup v2: "quota period"
        quota, period = (folder / "cpu.max").read_text().split()
    else:
        quota = (folder / "cpu.cfs_quota_us").read_text().strip()
        period = (folder / "cpu.cfs_period_us").read_text().strip()
    assert quota not in ("max", "-1"), f"{folder}: no CPU quota"
    return int(quota) / int(period)


def burn(lam, name):
    resp = lam.invoke(FunctionName=name,
                      Payload=json.dumps({"action": "burn", "seconds": BURN_SECONDS}).encode())
    raw = h.read_payload(resp)
    assert "FunctionError" not in resp, raw[:1000]
    res = json.loads(raw)
    return res["cpu"], res["wall"]


def test_cpu_time_is_proportional_to_memory(lam, make_function, server):
    serving = [json.loads(line) for line in server.log_text().splitlines()
               if '"nimbus is serving"' in line]
    assert serving and not serving[-1].get("sandbox", "").startswith("none"), \
        "nimbus runs as root but without its sandbox"
    sandbox_line = serving[-1]["sandbox"]
    code = h.zip_dir(h.FUNCTIONS_DIR / "hostile-python")
    big = make_function(PY, handler="app.main", zip=code, MemorySize=FULL_CORE_MB, Timeout=10)
    half = make_function(PY, handler="app.main", zip=code, MemorySize=885, Timeout=10)
    # Warm both instances so that no start-up work lands in the measurement.
    for fn in (big, half):
        lam.invoke(FunctionName=fn.name, Payload=b'{"action": "identity"}')["Payload"].read()

    pairs = []
    deadline = time.monotonic() + BUDGET_SECONDS
    while True:
        big_cpu, big_wall = burn(lam, big.name)
        half_cpu, half_wall = burn(lam, half.name)
        pairs.append((big_cpu / big_wall, half_cpu / half_wall, big_cpu / half_cpu))
        # The quotas: never more than the share of a core (plus scheduling slack).
        assert big_cpu / big_wall <= 1.15, f"1769 MB got more than one core: {pairs}"
        assert half_cpu / half_wall <= 885 / FULL_CORE_MB * 1.2, \
            f"885 MB got more than half a core: {pairs}"
        if big_cpu / big_wall >= UNCONTENDED_SHARE or time.monotonic() > deadline:
            break
    print("core shares 1769 MB / 885 MB and CPU time ratios:",
          [tuple(round(x, 2) for x in p) for p in pairs])
    usable = [p for p in pairs if p[0] >= UNCONTENDED_SHARE]
    if not usable:
        # Too busy to measure: check what nimbus asked the kernel for instead (both
        # instances are still warm, their cgroups in place).
        big_cores = configured_cores(server, sandbox_line, big.name)
        half_cores = configured_cores(server, sandbox_line, half.name)
        assert abs(big_cores - 1.0) <= 0.02, f"1769 MB has a quota of {big_cores} cores"
        assert abs(half_cores - 885 / FULL_CORE_MB) <= 0.02, \
            f"885 MB has a quota of {half_cores} cores"
        warnings.warn(f"host too busy for the CPU ratio (the 1769 MB function never got "
                      f"{UNCONTENDED_SHARE:.0%} of a core; shares 1769/885 and ratios: "
                      f"{[tuple(round(x, 2) for x in p) for p in pairs]}); checked the "
                      f"configured quotas instead: {big_cores:.3f} and {half_cores:.3f} cores")
        return
    ratio = usable[-1][2]
    assert 1.4 <= ratio <= 2.8, \
        f"CPU time ratio 1769 MB / 885 MB is {ratio:.2f}; pairs (shares, ratio): {pairs}"
