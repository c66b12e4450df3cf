"""The simulator process: config file, loopback network, shutdown and the parent watchdog."""

from __future__ import annotations

import ipaddress
import os
import signal
import socket
import ssl
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from helpers.net import TlsSettings, make_ssl_context
from simulator import launcher
from simulator.assembly import attach_parts
from simulator.server import _loopback_in_use, reserve_loopback_network
from simulator.world import PROFILES, World


def _children(pid: int) -> list[int]:
    out = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                out.append(int(entry.name))
    return out


def _alive(pid: int) -> bool:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[-1].split()
    except OSError:
        return False
    return fields[0] != "Z"


def _wait_dead(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _alive(pid):
            return True
        time.sleep(0.1)
    return False


def test_config_file_contents(sim):
    cfg = sim.config
    assert set(cfg) == {"bosh", "cf", "resolve", "loopback_only"}
    assert cfg["loopback_only"] is True
    assert cfg["bosh"]["url"] == "https://192.168.50.4:25555"
    assert cfg["bosh"]["ca_cert"].startswith("-----BEGIN CERTIFICATE-----")
    assert cfg["bosh"]["username"] == "admin" and len(cfg["bosh"]["password"]) >= 16
    assert cfg["bosh"]["skip_ssl_validation"] is False
    # what a user of a 2015 BOSH-Lite needs: the director's certificate is SHA-1 signed
    assert cfg["bosh"]["tls_allow_sha1"] is True and cfg["bosh"]["tls_hostname_from_cn"] is False
    assert cfg["cf"]["api"] == "https://api.bosh-lite.com"
    assert cfg["cf"]["apps_domain"] == cfg["cf"]["system_domain"] == "bosh-lite.com"
    assert cfg["cf"]["admin_user"] == "admin" and cfg["cf"]["admin_password"] != cfg["bosh"]["password"]
    # no CF CA: the suite trusts the HAProxy certificate it deploys; verification stays on
    assert cfg["cf"]["ca_cert"] is None and cfg["cf"]["skip_ssl_validation"] is False
    assert cfg["cf"]["tls_allow_sha1"] is False and cfg["cf"]["tls_hostname_from_cn"] is False
    resolve = cfg["resolve"]
    host, port = resolve["192.168.50.4:25555"].rsplit(":", 1)
    assert host == "127.0.0.1" and int(port) > 0
    loopback = ipaddress.IPv4Network(resolve["10.244.0.0/16"])
    assert loopback.prefixlen == 16 and loopback.network_address.packed[0] == 127
    assert 20 <= loopback.network_address.packed[1] <= 250
    assert all(v.startswith("127.") for v in resolve.values())
    mode = stat.S_IMODE(os.stat(sim.process.config_path).st_mode)
    assert mode == 0o600  # it holds credentials


def test_suite_clients_refuse_addresses_outside_loopback(sim):
    from helpers.config import parse_config
    from helpers.net import ResolverError

    resolver = parse_config(sim.config, source="simulator").resolver()
    assert resolver.resolve("api.bosh-lite.com", 443)[0].startswith("127.")
    with pytest.raises(ResolverError):
        resolver.resolve("192.0.2.10", 443)  # not in the map: never connected to


def test_director_tls_verifies_with_original_name_only(sim):
    host, port = sim.config["resolve"]["192.168.50.4:25555"].rsplit(":", 1)
    # the config's own settings: its CA, and SHA-1 accepted in that chain (a 2015 director's)
    ctx = make_ssl_context(TlsSettings(sim.config["bosh"]["ca_cert"], allow_sha1=True))
    with socket.create_connection((host, int(port)), timeout=5) as raw, \
            ctx.wrap_socket(raw, server_hostname="192.168.50.4") as tls:
        assert tls.version() == "TLSv1.2"  # the era's nginx had no TLS 1.3
    with socket.create_connection((host, int(port)), timeout=5) as raw, pytest.raises(ssl.SSLCertVerificationError):
        ctx.wrap_socket(raw, server_hostname="api.bosh-lite.com")
    with socket.create_connection((host, int(port)), timeout=5) as raw, pytest.raises(ssl.SSLCertVerificationError):
        ssl.create_default_context().wrap_socket(raw, server_hostname="192.168.50.4")  # system CAs: untrusted


def test_loopback_reservation_is_seen_as_in_use():
    res = reserve_loopback_network()
    try:
        octet = res.network.network_address.packed[1]
        assert 20 <= octet <= 250
        assert octet in _loopback_in_use()
        other = reserve_loopback_network()
        try:
            assert other.network != res.network
        finally:
            other.close()
    finally:
        res.close()


def test_attach_parts_skips_missing_parts_but_not_other_errors(tmp_path):
    world = World(profile=PROFILES["fast"], state_dir=tmp_path)
    warnings: list[str] = []
    attach_parts(world, ("simulator.no_such_part_yet",), warn=warnings.append)
    assert warnings and "no_such_part_yet" in warnings[0]
    bad = tmp_path / "broken_part_for_test.py"
    bad.write_text("import no_such_dependency_xyz\n")
    sys.path.insert(0, str(tmp_path))
    try:
        with pytest.raises(ModuleNotFoundError):
            attach_parts(world, ("broken_part_for_test",), warn=warnings.append)
    finally:
        sys.path.remove(str(tmp_path))


def test_stop_leaves_no_process_behind(tmp_path):
    proc = launcher.start(tmp_path, preload=())
    pid = proc.pid
    assert proc.config()["bosh"]["url"] == "https://192.168.50.4:25555"
    children = _children(pid)
    assert proc.stop() == 0
    assert not _alive(pid)
    assert all(_wait_dead(c, 5) for c in children)


def test_watchdog_exits_when_the_parent_is_killed(tmp_path):
    script = textwrap.dedent(f"""
        import sys, time
        sys.path.insert(0, {str(launcher.REPO_ROOT)!r})
        from simulator import launcher
        p = launcher.start({str(tmp_path)!r}, preload=())
        print(p.pid, flush=True)
        time.sleep(120)
    """)
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        line = parent.stdout.readline() if parent.stdout else ""
        assert line.strip().isdigit(), "the wrapper did not start the simulator"
        sim_pid = int(line)
        assert _alive(sim_pid)
        children = _children(sim_pid)
        parent.send_signal(signal.SIGKILL)
        parent.wait(5)
        assert _wait_dead(sim_pid, 10), "the simulator outlived its parent"
        assert all(_wait_dead(c, 5) for c in children)
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()


def test_launcher_reports_startup_failure(tmp_path):
    with pytest.raises(launcher.SimulatorStartError, match="unknown version set"):
        launcher.start(tmp_path, preload=("no_such_set",), timeout=30)


def test_sigint_shuts_down_cleanly(tmp_path):
    proc = launcher.start(tmp_path, preload=())
    proc.process.send_signal(signal.SIGINT)
    assert proc.process.wait(15) == 0
    assert "ready" in proc.log_tail()


def test_uaa_mode_config_carries_client_credentials(tmp_path):
    import ipaddress as ip

    from simulator.assembly import build_world, suite_config

    world = build_world(tmp_path, "fast", ip.IPv4Network("127.99.0.0/16"), [], director_auth="uaa")
    cfg = suite_config(world)
    assert cfg["bosh"]["client"] == "admin"
    assert cfg["bosh"]["client_secret"] == world.credentials["bosh_password"]
    assert cfg["resolve"]["10.244.0.0/16"] == "127.99.0.0/16"
    basic = suite_config(build_world(tmp_path / "b", "fast", ip.IPv4Network("127.98.0.0/16"), []))
    assert basic["bosh"]["client"] is None
