"""Runs inside `unshare --net --mount --fork` (made by the test): a stand-in EC2 host for the
BOSH-Lite user-data script, on which the real `iptables` applies the rules.

Layout (all private to the namespace): `eth0` (192.0.2.10, default route) is the VM's
external interface, paired with `c0` in a `client` namespace (192.0.2.20) that plays the
internet and also holds the instance-metadata address 169.254.169.254; a `haproxy` namespace
behind the veth `w0` (10.244.0.33 on the VM side, 10.244.0.34 inside) plays HAProxy's warden
container, where small TCP servers answer `<address>:<port>`; a fake 2015 director on
127.0.0.1 serves `/info` and `/users`.

    python userdata_host.py SCRIPT ROOT DIRECTOR_PY   -> prints one JSON report on stdout
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

HAPROXY = "10.244.0.34"
PORTS = (80, 443, 2222, 4443)
VM_ADDRESS = "192.0.2.10"
METADATA = "169.254.169.254"


def sh(*argv: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, check=check, capture_output=True, text=True)


def setup_network() -> None:
    sh("mount", "-t", "tmpfs", "none", "/run")  # `ip netns` keeps its handles under /run
    sh("ip", "link", "set", "lo", "up")
    sh("ip", "netns", "add", "client")
    sh("ip", "link", "add", "eth0", "type", "veth", "peer", "name", "c0")
    sh("ip", "link", "set", "c0", "netns", "client")
    sh("ip", "addr", "add", f"{VM_ADDRESS}/24", "dev", "eth0")
    sh("ip", "link", "set", "eth0", "up")
    sh("ip", "route", "add", "default", "via", "192.0.2.1", "dev", "eth0", "onlink")
    for argv in (("ip", "link", "set", "lo", "up"), ("ip", "addr", "add", "192.0.2.20/24", "dev", "c0"),
                 ("ip", "link", "set", "c0", "up")):
        sh("ip", "netns", "exec", "client", *argv)
    sh("ip", "netns", "exec", "client", "ip", "addr", "add", f"{METADATA}/32", "dev", "c0")
    sh("ip", "route", "add", f"{METADATA}/32", "dev", "eth0")
    # the container: its own namespace behind a host-side veth, as warden does
    sh("ip", "netns", "add", "haproxy")
    sh("ip", "link", "add", "w0", "type", "veth", "peer", "name", "w1")
    sh("ip", "link", "set", "w1", "netns", "haproxy")
    sh("ip", "addr", "add", "10.244.0.33/30", "dev", "w0")
    sh("ip", "link", "set", "w0", "up")
    for argv in (("ip", "link", "set", "lo", "up"), ("ip", "addr", "add", f"{HAPROXY}/30", "dev", "w1"),
                 ("ip", "link", "set", "w1", "up"), ("ip", "route", "add", "default", "via", "10.244.0.33")):
        sh("ip", "netns", "exec", "haproxy", *argv)
    sh("sysctl", "-q", "-w", "net.ipv4.ip_forward=1")


BANNERS = r"""
import socket, sys, threading
def serve(host, port):
    srv = socket.create_server((host, port))
    while True:
        conn, _ = srv.accept()
        with conn:
            conn.sendall(f"{host}:{port}\n".encode())
for host, port in [(a, int(p)) for a, p in (x.split(":") for x in sys.argv[1:])]:
    threading.Thread(target=serve, args=(host, port), daemon=True).start()
print("ready", flush=True)
sys.stdin.read()
"""


def serve_banners(netns: str, endpoints: list[str]) -> subprocess.Popen[str]:
    """TCP listeners in a namespace; each answers where it is."""
    proc = subprocess.Popen(["ip", "netns", "exec", netns, sys.executable, "-c", BANNERS, *endpoints],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def connect(netns: str | None, host: str, port: int) -> str:
    """Connect from a namespace (None: the VM itself); the banner, or the error seen."""
    code = (f"import socket,sys; s=socket.create_connection(({host!r}, {port}), timeout=2); "
            "sys.stdout.write(s.recv(100).decode().strip())")
    prefix = ["ip", "netns", "exec", netns] if netns else []
    r = sh(*prefix, sys.executable, "-c", code, check=False)
    return r.stdout.strip() if r.returncode == 0 else f"error: {r.stderr.strip().splitlines()[-1:]}"


def from_client(port: int) -> str:
    return connect("client", VM_ADDRESS, port)


def rules() -> list[str]:
    out = sh("iptables-save").stdout.splitlines()
    return [line for line in out if line.startswith("-A ")]


def main() -> int:
    script, root, director_py = sys.argv[1:4]
    setup_network()
    servers = [serve_banners("haproxy", [f"{HAPROXY}:{p}" for p in PORTS]),
               serve_banners("client", [f"{METADATA}:80"])]
    director = subprocess.Popen([sys.executable, director_py], stdout=subprocess.PIPE, text=True)
    port = int(director.stdout.readline().split()[-1])  # "listening 127.0.0.1 PORT"
    env = dict(os.environ, BOSH_LITE_FS_ROOT=root, BOSH_LITE_DIRECTOR_URL=f"http://127.0.0.1:{port}",
               BOSH_LITE_CURL_TLS="", BOSH_LITE_DIRECTOR_WAIT="20")
    report: dict[str, object] = {}
    first = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    report["first_boot"] = {"rc": first.returncode, "stdout": first.stdout, "stderr": first.stderr}
    report["rules_after_first_boot"] = rules()
    report["reached_after_first_boot"] = {p: from_client(p) for p in PORTS}
    report["metadata_from_container"] = connect("haproxy", METADATA, 80)
    report["metadata_from_vm"] = connect(None, METADATA, 80)
    again = subprocess.run(["bash", script], env=env, capture_output=True, text=True)
    report["second_run"] = {"rc": again.returncode, "stdout": again.stdout, "stderr": again.stderr}
    report["rules_after_second_run"] = rules()
    # a reboot: the kernel's tables start empty, then rc.local runs the installed script
    sh("iptables", "-t", "nat", "-F")
    sh("iptables", "-F", "FORWARD")
    report["rules_after_flush"] = rules()
    report["reached_after_flush"] = {p: from_client(p) for p in PORTS}
    sh("mount", "--bind", f"{root}/usr/local/sbin", "/usr/local/sbin")
    boot = subprocess.run(["sh", f"{root}/etc/rc.local"], capture_output=True, text=True)
    report["reboot"] = {"rc": boot.returncode, "stderr": boot.stderr}
    report["rules_after_reboot"] = rules()
    report["reached_after_reboot"] = {p: from_client(p) for p in PORTS}
    for proc in servers:
        proc.terminate()
    director.terminate()
    report["director_log"] = director.communicate(timeout=5)[0]
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
