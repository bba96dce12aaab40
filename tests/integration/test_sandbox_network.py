"""Network modes of instances: `isolated` (the default: loopback only) and `egress`
(outbound connections to the world, never to the host itself nor to other instances),
and the settings API that chooses between them.

"The world" is a network namespace this module makes (`ip netns`), joined to the host by
a veth pair with addresses from 198.18.0.0/15 (the benchmarking range): a TCP server in
there answers "world". The host's own services are a TCP server on 0.0.0.0 in the host's
namespace (answering "host") and the nimbus API itself. Runs only as root, with nft and ip.
"""
import base64
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
import requests

import nimbus_helpers as h

ROOT = os.geteuid() == 0
if not ROOT:
    pytest.skip("network modes need the sandbox, which needs root", allow_module_level=True)
if not shutil.which("ip") or not (shutil.which("nft") or os.access("/usr/sbin/nft", os.X_OK)):
    pytest.skip("needs ip (iproute2) and nft (nftables): scripts/install-deps.sh installs them",
                allow_module_level=True)

PY = "python3.11"
BLOCKED = ("ETIMEDOUT", "ECONNREFUSED", "ENETUNREACH", "EHOSTUNREACH", "EACCES", "EPERM")


def sh(*args, check=True):
    return subprocess.run(list(args), capture_output=True, text=True, check=check)


# ------------------------------------------------------------------ the world and the host

class World:
    """A network namespace with a TCP server answering 'world', reachable from the host."""

    def __init__(self):
        tag = f"{random.randrange(16**4):04x}"
        third = random.randrange(256)
        self.netns = f"nbtest-world-{tag}"
        self.host_link = f"nbtw{tag}"
        self.host_address = f"198.18.{third}.1"
        self.address = f"198.18.{third}.2"
        self.port = 18000 + random.randrange(1000)
        self.proc = None

    def __enter__(self):
        sh("ip", "netns", "add", self.netns)
        sh("ip", "link", "add", self.host_link, "type", "veth", "peer", "name", "w0",
           "netns", self.netns)
        sh("ip", "addr", "add", f"{self.host_address}/24", "dev", self.host_link)
        sh("ip", "link", "set", self.host_link, "up")
        sh("ip", "-n", self.netns, "addr", "add", f"{self.address}/24", "dev", "w0")
        sh("ip", "-n", self.netns, "link", "set", "w0", "up")
        sh("ip", "-n", self.netns, "link", "set", "lo", "up")
        server = ("import socket\n"
                  "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
                  f"s.bind(('{self.address}', {self.port})); s.listen(64)\n"
                  "print('ready', flush=True)\n"
                  "while True:\n"
                  "    c, a = s.accept()\n"
                  "    c.sendall(('world from ' + a[0] + '\\n').encode()); c.close()\n")
        self.proc = subprocess.Popen(["ip", "netns", "exec", self.netns, sys.executable, "-c",
                                      server], stdout=subprocess.PIPE, text=True)
        assert self.proc.stdout.readline().strip() == "ready"
        # The host itself reaches the world: the stand-in works.
        with socket.create_connection((self.address, self.port), timeout=3) as s:
            assert s.recv(100).startswith(b"world")
        return self

    def __exit__(self, *exc):
        if self.proc:
            self.proc.kill()
            self.proc.wait()
        sh("ip", "link", "del", self.host_link, check=False)
        sh("ip", "netns", "del", self.netns, check=False)


class HostService:
    """A TCP server on 0.0.0.0 in the host's own namespace: every host address has it."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("0.0.0.0", 0))
        self.sock.listen(64)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self):
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            with conn:
                try:
                    conn.sendall(b"host\n")
                except OSError:
                    pass

    def close(self):
        self.sock.close()


def host_ipv4_addresses():
    out = sh("ip", "-o", "-4", "addr", "show").stdout
    return sorted({m.group(1) for m in re.finditer(r"inet (\d+\.\d+\.\d+\.\d+)/", out)})


@pytest.fixture(scope="module")
def world():
    with World() as w:
        yield w


@pytest.fixture(scope="module")
def host_service():
    svc = HostService()
    yield svc
    svc.close()


@pytest.fixture(scope="module")
def probe_zip():
    return h.zip_dir(h.FUNCTIONS_DIR / "net-probe")


@pytest.fixture(scope="module")
def egress_info(server):
    """The table and link prefix this server uses, from its start-up line; fails when the
    server could not set egress up although this host can."""
    serving = [json.loads(line) for line in server.log_text().splitlines()
               if '"nimbus is serving"' in line]
    assert serving, f"no 'nimbus is serving' line in the log:\n{server.log_tail()}"
    mode = serving[-1].get("sandbox", "")
    m = re.search(r"egress via nftables table inet (\S+), (\S+) .*links (\S+)\*", mode)
    assert m, f"the server does not offer egress: {mode}"
    return {"table": m.group(1).rstrip(","), "subnet": m.group(2), "prefix": m.group(3)}


def links_with(prefix):
    out = sh("ip", "-o", "link", "show").stdout
    return [m.group(1) for m in re.finditer(r"^\d+: ([^:@]+)", out, re.M)
            if m.group(1).startswith(prefix)]


def set_settings(http, name, **body):
    r = http.patch(f"/v1/functions/{name}/settings", json=body)
    assert r.status_code == 200, r.text
    return r.json()


def invoke(lam, name, event):
    resp = lam.invoke(FunctionName=name, Payload=json.dumps(event).encode())
    body = h.payload_json(resp)
    assert "FunctionError" not in resp, body
    return body


@pytest.fixture
def probe(lam, http, probe_zip):
    """probe(mode) -> the name of a new net-probe function in that network mode."""
    made = []

    def make(mode):
        name = h.unique_name("net")
        lam.create_function(FunctionName=name, Runtime=PY, Role=h.ROLE, Handler="app.main",
                            Code={"ZipFile": probe_zip}, Timeout=60)
        made.append(name)
        h.wait_ready(lam, name)
        if mode != "isolated":
            set_settings(http, name, NetworkMode=mode)
        return name

    yield make
    for name in made:
        try:
            lam.delete_function(FunctionName=name)
        except Exception:
            pass


# ------------------------------------------------------------------ egress

def test_egress_reaches_the_world_masqueraded(lam, probe, world, egress_info):
    fn = probe("egress")
    out = invoke(lam, fn, {"action": "connect", "targets": [[world.address, world.port]]})
    # The Runtime API answered (we got a result) and the world saw the host's address.
    assert out["results"] == [f"ok:world from {world.host_address}"], out


def test_egress_cannot_reach_the_host(lam, probe, world, host_service, server, egress_info):
    fn = probe("egress")
    me = invoke(lam, fn, {"action": "address", "towards": world.address})["address"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", me), me
    head, last = me.rsplit(".", 1)
    gateway = f"{head}.{int(last) - 1}"  # the host end of the instance's /30
    targets = [[a, host_service.port] for a in host_ipv4_addresses()]
    targets += [[gateway, host_service.port], [gateway, server.port],
                [world.host_address, server.port], ["127.0.0.1", server.port],
                ["127.0.0.1", host_service.port]]
    out = invoke(lam, fn, {"action": "connect", "targets": targets, "timeout": 1})
    for target, result in zip(targets, out["results"]):
        assert result in BLOCKED, f"egress instance reached the host at {target}: {result}"
    # The host service itself is up: from the host it answers.
    with socket.create_connection((world.host_address, host_service.port), timeout=3) as s:
        assert s.recv(10) == b"host\n"


def test_egress_cannot_reach_another_instance(lam, probe, world, egress_info):
    listener, other = probe("egress"), probe("egress")
    port = 19000 + random.randrange(1000)
    got = invoke(lam, listener, {"action": "listen", "port": port, "towards": world.address})
    address = got["address"]
    assert re.fullmatch(r"\d+\.\d+\.\d+\.\d+", address), got
    # The listener works from inside its own instance...
    own = invoke(lam, listener, {"action": "connect", "targets": [[address, port]]})
    assert own["results"] == ["ok:instance"], own
    # ...but another egress instance, which does reach the world, cannot get to it.
    out = invoke(lam, other, {"action": "connect", "timeout": 1,
                              "targets": [[address, port], [world.address, world.port]]})
    assert out["results"][0] in BLOCKED, out
    assert out["results"][1].startswith("ok:world"), out


def test_isolated_reaches_nothing_outside(lam, probe, world, host_service, server):
    fn = probe("isolated")
    targets = [[world.address, world.port], [world.host_address, host_service.port],
               ["127.0.0.1", server.port]]
    targets += [[a, host_service.port] for a in host_ipv4_addresses() if a != "127.0.0.1"]
    out = invoke(lam, fn, {"action": "connect", "targets": targets, "timeout": 1})
    for target, result in zip(targets, out["results"]):
        assert result in BLOCKED, f"isolated instance reached {target}: {result}"
    assert invoke(lam, fn, {"action": "address", "towards": world.address})["address"] == \
        "ENETUNREACH"


def test_switching_modes_retires_instances_and_links_go_away(lam, http, probe, world,
                                                             egress_info):
    fn = probe("egress")
    first = invoke(lam, fn, {"action": "connect", "targets": [[world.address, world.port]]})
    assert first["results"][0].startswith("ok:world"), first
    assert links_with(egress_info["prefix"]), "no egress link while an egress instance lives"
    set_settings(http, fn, NetworkMode="isolated")
    second = invoke(lam, fn, {"action": "connect", "timeout": 1,
                              "targets": [[world.address, world.port]]})
    assert second["pid"] is not None
    assert second["results"][0] in BLOCKED, second
    lam.delete_function(FunctionName=fn)
    # Every instance of this module's functions ends on delete; their links go with them.
    h.wait_until(lambda: not links_with(egress_info["prefix"]) or None, 10,
                 "the egress links to be removed")


def test_the_server_keeps_its_rules_table(egress_info):
    out = sh("nft", "list", "table", "inet", egress_info["table"]).stdout
    assert "masquerade" in out and egress_info["prefix"] in out


def test_server_exit_removes_table_and_links(custom_server, tmp_path):
    srv = custom_server("--egress-subnet", "10.254.4.0/24")
    serving = [json.loads(line) for line in srv.log_text().splitlines()
               if '"nimbus is serving"' in line]
    m = re.search(r"table inet (\S+?),", serving[-1]["sandbox"])
    assert m and "10.254.4.0/24" in serving[-1]["sandbox"], serving[-1]
    table = m.group(1)
    assert sh("nft", "list", "table", "inet", table, check=False).returncode == 0
    srv.proc.send_signal(signal.SIGTERM)
    srv.proc.wait(timeout=15)
    assert sh("nft", "list", "table", "inet", table, check=False).returncode != 0, \
        "the egress table outlived its server"


def _serve(data_dir, log_path, secret, env=None):
    """Starts nimbus on data_dir (which may hold a killed server's state); waits for it."""
    from conftest import ACCESS_KEY, _free_port, _server_env, nimbus_bin
    port = _free_port()
    with open(log_path, "ab") as err:
        proc = subprocess.Popen([str(nimbus_bin()), "serve", "--listen", f"127.0.0.1:{port}",
                                 "--data", str(data_dir), "--egress-subnet", "10.254.8.0/24"],
                                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                env={**_server_env(secret), **(env or {})},
                                start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {ACCESS_KEY}:{secret}"

    def up():
        try:
            return proc.poll() is not None or requests.get(url + "/healthz", timeout=1).ok
        except requests.RequestException:
            return False

    try:
        h.wait_until(up, 15, "nimbus to start")
        assert proc.poll() is None, open(log_path).read()[-2000:]
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc, url, session


def test_restart_after_kill_replaces_the_table(tmp_path, probe_zip, world):
    data, log = tmp_path / "data", tmp_path / "server.log"
    secret = "nimbus-" + os.urandom(8).hex()
    proc, url, api = _serve(data, log, secret)
    try:
        r = api.post(url + "/2015-03-31/functions", json={
            "FunctionName": "egress-after-kill", "Runtime": PY, "Handler": "app.main",
            "Role": h.ROLE, "Timeout": 30,
            "Code": {"ZipFile": base64.b64encode(probe_zip).decode()}})
        assert r.status_code == 201, r.text
        assert api.patch(url + "/v1/functions/egress-after-kill/settings",
                         json={"NetworkMode": "egress"}).status_code == 200
        event = {"action": "connect", "targets": [[world.address, world.port]]}
        r = api.post(url + "/2015-03-31/functions/egress-after-kill/invocations", json=event)
        assert r.status_code == 200 and r.json()["results"][0].startswith("ok:world"), r.text
        m = re.search(r"table inet (\S+?),.*links (\S+)\*", open(log).read())
        table, prefix = m.group(1), m.group(2)
        assert links_with(prefix), "the egress instance has no link"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        # A killed server leaves its table; its instances die with it, and their links
        # with their namespaces.
        assert sh("nft", "list", "table", "inet", table, check=False).returncode == 0
        proc, url, api = _serve(data, log, secret)
        assert not links_with(prefix)
        r = api.post(url + "/2015-03-31/functions/egress-after-kill/invocations", json=event)
        assert r.status_code == 200 and r.json()["results"][0].startswith("ok:world"), r.text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=20) == 0
        assert sh("nft", "list", "table", "inet", table, check=False).returncode != 0
        assert not links_with(prefix)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_host_without_egress_says_so_and_refuses_egress_functions(tmp_path, probe_zip):
    """nft that fails (here /bin/false) stands in for a host that cannot do egress."""
    data, log = tmp_path / "data", tmp_path / "server.log"
    secret = "nimbus-" + os.urandom(8).hex()
    proc, url, api = _serve(data, log, secret, env={"NIMBUS_NFT": "/bin/false"})
    try:
        text = open(log).read()
        assert "egress network mode unavailable" in text, text[-3000:]
        assert "network: isolated only" in text, text[-3000:]
        for name, mode in (("still-isolated", "isolated"), ("wants-egress", "egress")):
            r = api.post(url + "/2015-03-31/functions", json={
                "FunctionName": name, "Runtime": PY, "Handler": "app.main", "Role": h.ROLE,
                "Code": {"ZipFile": base64.b64encode(probe_zip).decode()}})
            assert r.status_code == 201, r.text
            assert api.patch(url + f"/v1/functions/{name}/settings",
                             json={"NetworkMode": mode}).status_code == 200
        event = {"action": "address", "towards": "198.18.0.1"}
        r = api.post(url + "/2015-03-31/functions/wants-egress/invocations", json=event)
        assert r.status_code == 503, r.text
        assert r.headers["x-amzn-ErrorType"].startswith("ServiceException")
        message = r.json().get("Message") or r.json().get("message")
        assert "egress" in message and "cannot provide" in message, message
        r = api.post(url + "/2015-03-31/functions/still-isolated/invocations", json=event)
        assert r.status_code == 200 and r.json()["address"] == "ENETUNREACH", r.text
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=20)


def test_bad_egress_subnet_refuses_to_start(tmp_path):
    from conftest import nimbus_bin
    p = subprocess.run([str(nimbus_bin()), "serve", "--listen", "127.0.0.1:0", "--data",
                        str(tmp_path / "d"), "--egress-subnet", "10.0.0.1/16"],
                       capture_output=True, text=True, timeout=20)
    assert p.returncode != 0
    assert "egress-subnet" in p.stderr and "host bits" in p.stderr, p.stderr


# ------------------------------------------------------------------ the settings API

def test_settings_round_trip(http, probe, lam):
    fn = probe("isolated")
    r = http.get(f"/v1/functions/{fn}/settings")
    assert r.status_code == 200, r.text
    before = r.json()
    assert before["NetworkMode"] == "isolated" and before["KeepAliveSeconds"] == 0, before
    after = set_settings(http, fn, NetworkMode="egress", KeepAliveSeconds=60)
    assert after["NetworkMode"] == "egress" and after["KeepAliveSeconds"] == 60, after
    assert after["RevisionId"] != before["RevisionId"]
    # Lambda's view moved on too (a configuration change) and stays boto3-shaped.
    config = lam.get_function_configuration(FunctionName=fn)
    assert config["RevisionId"] == after["RevisionId"]
    got = http.get(f"/v1/functions/{fn}/settings").json()
    assert got == after
    # Only what is given changes; the same values again change nothing.
    partial = set_settings(http, fn, KeepAliveSeconds=0)
    assert partial["NetworkMode"] == "egress" and partial["KeepAliveSeconds"] == 0
    same = set_settings(http, fn, KeepAliveSeconds=0)
    assert same["RevisionId"] == partial["RevisionId"]


@pytest.mark.parametrize("body", [
    {"NetworkMode": "open"}, {"NetworkMode": "Egress"}, {"NetworkMode": 1},
    {"KeepAliveSeconds": -1}, {"KeepAliveSeconds": 86401}, {"KeepAliveSeconds": "60"},
    {"KeepAliveSeconds": 1.5}, {"Network": "egress"},
])
def test_settings_validation(http, probe, body):
    fn = probe("isolated")
    r = http.patch(f"/v1/functions/{fn}/settings", json=body)
    assert r.status_code == 400, r.text
    assert r.headers["x-amzn-ErrorType"].startswith("InvalidParameterValueException")
    assert "message" in r.json()
    assert http.get(f"/v1/functions/{fn}/settings").json()["NetworkMode"] == "isolated"


def test_settings_of_unknown_function_is_404(http):
    for method in ("get", "patch"):
        r = getattr(http, method)("/v1/functions/no-such-fn-xyz/settings",
                                  **({"json": {"NetworkMode": "egress"}} if method == "patch"
                                     else {}))
        assert r.status_code == 404, r.text
        assert r.headers["x-amzn-ErrorType"].startswith("ResourceNotFoundException")
        assert "Function not found" in r.json()["Message"]


def test_settings_need_authentication(anon):
    assert anon.get("/v1/functions/anything/settings").status_code == 403


def test_cli_deploy_and_settings(cli, lam, tmp_path):
    src = tmp_path / "fn"
    shutil.copytree(h.FUNCTIONS_DIR / "net-probe", src)
    name = h.unique_name("netcli")
    try:
        r = cli("deploy", src, "--name", name, "--runtime", PY, "--handler", "app.main",
                "--network", "egress", "--keep-alive", "60")
        assert r.returncode == 0, r
        r = cli("settings", name)
        assert r.returncode == 0, r
        shown = json.loads(r.stdout)
        assert shown["NetworkMode"] == "egress" and shown["KeepAliveSeconds"] == 60, shown
        r = cli("settings", name, "--network", "isolated")
        assert r.returncode == 0, r
        assert json.loads(r.stdout)["NetworkMode"] == "isolated"
        r = cli("settings", name, "--keep-alive", "-5")
        assert r.returncode != 0
    finally:
        cli("rm", name)
