"""Garden's container networking in the simulator: NetIn forwarding on one event loop, the
port pool, container addresses, and the environment the executor and launcher give an app."""

from __future__ import annotations

import ipaddress
import json
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from simulator.diego import garden as garden_mod
from simulator.diego import rep
from simulator.diego.garden import ContainerNetwork, Garden, GardenError, PortPool
from simulator.diego.models import ActualLRP, Cell, DesiredLRP, Droplet
from simulator.diego.netin import NetInForwarder
from simulator.server import reserve_loopback_network


@pytest.fixture
def forwarder() -> Iterator[NetInForwarder]:
    f = NetInForwarder()
    yield f
    f.close()


@pytest.fixture
def network() -> Iterator[ipaddress.IPv4Network]:
    """A loopback /16 of the test's own, so that fixed ports on it are free."""
    reservation = reserve_loopback_network()
    yield reservation.network
    reservation.close()


def _host(network: ipaddress.IPv4Network, n: int) -> str:
    return str(network.network_address + n)


class Backend:
    """A TCP server thread that runs `serve(conn)` for each connection."""

    def __init__(self, host: str, serve) -> None:  # type: ignore[no-untyped-def]
        self.sock = socket.create_server((host, 0))
        self.address = self.sock.getsockname()[:2]
        self.serve = serve
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            threading.Thread(target=self._one, args=(conn,), daemon=True).start()

    def _one(self, conn: socket.socket) -> None:
        with conn:
            try:
                self.serve(conn)
            except OSError:
                pass  # the tests that reset connections reset this end too

    def close(self) -> None:
        self.sock.close()


def _echo_until_eof_then_reply(conn: socket.socket) -> None:
    """Reads everything (until the client's half-close), then answers with its length."""
    got = bytearray()
    while chunk := conn.recv(65536):
        got += chunk
    conn.sendall(f"got {len(got)}".encode())


def _read_all(sock: socket.socket) -> bytes:
    out = bytearray()
    while chunk := sock.recv(65536):
        out += chunk
    return bytes(out)


def test_forward_passes_data_and_half_close_both_ways(forwarder: NetInForwarder,
                                                      network: ipaddress.IPv4Network) -> None:
    backend = Backend(_host(network, 2), _echo_until_eof_then_reply)
    forward = forwarder.open((_host(network, 1), 61001), backend.address)
    try:
        payload = bytes(range(256)) * 40000  # 10 MB: more than any socket buffer, so flow control matters
        with socket.create_connection((_host(network, 1), 61001), timeout=10) as client:
            client.sendall(payload)
            client.shutdown(socket.SHUT_WR)  # the backend only answers after our EOF
            assert _read_all(client) == f"got {len(payload)}".encode()
    finally:
        forward.close()
        backend.close()


def test_a_slow_reader_holds_the_sender_back(forwarder: NetInForwarder,
                                             network: ipaddress.IPv4Network) -> None:
    """The forwarder does not buffer without bound: a client that does not read stops the
    backend's writes (they block) instead of growing the simulator's memory."""
    sent = [0]
    blocked = threading.Event()

    def firehose(conn: socket.socket) -> None:
        conn.settimeout(1.0)
        chunk = b"x" * 65536
        try:
            while True:
                conn.sendall(chunk)
                sent[0] += len(chunk)
        except (TimeoutError, OSError):
            blocked.set()

    backend = Backend(_host(network, 2), firehose)
    forward = forwarder.open((_host(network, 1), 61002), backend.address)
    try:
        with socket.create_connection((_host(network, 1), 61002), timeout=10) as client:
            client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
            assert blocked.wait(15), f"the backend was never held back (sent {sent[0]} bytes)"
            assert sent[0] < 64 * 1024 * 1024, sent[0]
    finally:
        forward.close()
        backend.close()


def test_nothing_listening_in_the_container_resets_the_client(forwarder: NetInForwarder,
                                                              network: ipaddress.IPv4Network) -> None:
    forward = forwarder.open((_host(network, 1), 61003), (_host(network, 2), 8080))
    try:
        # the reset can come as early as the end of connect(), or at the first send or receive
        with (pytest.raises(ConnectionResetError),
              socket.create_connection((_host(network, 1), 61003), timeout=5) as client):
            client.sendall(b"GET / HTTP/1.0\r\n\r\n")
            client.recv(1)
    finally:
        forward.close()


def test_closing_a_forward_refuses_new_and_resets_open_connections(forwarder: NetInForwarder,
                                                                   network: ipaddress.IPv4Network) -> None:
    backend = Backend(_host(network, 2), _echo_until_eof_then_reply)
    listen = (_host(network, 1), 61004)
    forward = forwarder.open(listen, backend.address)
    try:
        with pytest.raises(OSError):
            forwarder.open(listen, backend.address)  # one NetIn per port
        held = socket.create_connection(listen, timeout=5)
        held.sendall(b"partial")
        time.sleep(0.2)  # spliced by now
        forward.close()
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(listen, timeout=5)
        with pytest.raises(ConnectionResetError):
            held.recv(1)
        held.close()
        forward.close()  # idempotent
    finally:
        backend.close()


def test_every_mapping_and_connection_share_one_thread(forwarder: NetInForwarder,
                                                       network: ipaddress.IPv4Network) -> None:
    release = threading.Event()

    def hold(conn: socket.socket) -> None:
        release.wait(10)

    backend = Backend(_host(network, 2), hold)
    threads_before = threading.active_count()
    forwards = [forwarder.open((_host(network, 1), 61100 + i), backend.address) for i in range(20)]
    clients = [socket.create_connection((_host(network, 1), 61100 + i), timeout=5) for i in range(20)]
    try:
        time.sleep(0.3)
        backend_threads = 20  # the test backend's own, one per connection
        assert threading.active_count() - threads_before <= backend_threads
    finally:
        release.set()
        for c in clients:
            c.close()
        for f in forwards:
            f.close()
        backend.close()


def test_a_closed_forwarder_opens_nothing(network: ipaddress.IPv4Network) -> None:
    forwarder = NetInForwarder()
    forward = forwarder.open((_host(network, 1), 61005), (_host(network, 2), 8080))
    forwarder.close()
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((_host(network, 1), 61005), timeout=5)
    forward.close()  # nothing left to do, and no error
    with pytest.raises(RuntimeError):
        forwarder.open((_host(network, 1), 61006), (_host(network, 2), 8080))


# ------------------------------------------------------------------ pools


def test_port_pool_is_first_in_first_out() -> None:
    pool = PortPool(60000, 3)
    assert [pool.acquire(), pool.acquire()] == [60000, 60001]
    pool.release(60000)
    pool.release(59999)  # not one of ours: ignored
    assert [pool.acquire(), pool.acquire()] == [60002, 60000]
    with pytest.raises(GardenError, match="port pool is exhausted"):
        pool.acquire()
    with pytest.raises(GardenError):
        PortPool(65000, 1000)


def test_container_network_hands_out_every_address_before_reusing_one() -> None:
    net = ContainerNetwork(ipaddress.IPv4Network("127.99.0.0/29"), taken=["127.99.0.3"])
    assert [net.acquire(), net.acquire()] == ["127.99.0.1", "127.99.0.2"]
    net.release("127.99.0.1")
    net.release("127.99.0.1")  # twice is once
    net.release("10.0.0.1")  # not ours: ignored
    assert [net.acquire() for _ in range(4)] == ["127.99.0.4", "127.99.0.5", "127.99.0.6", "127.99.0.1"]
    with pytest.raises(GardenError, match="insufficient addresses"):
        net.acquire()


def test_the_container_network_is_never_the_vm_network(monkeypatch: pytest.MonkeyPatch) -> None:
    vm = ipaddress.IPv4Network("127.37.0.0/16")
    closed: list[str] = []

    class Held:
        def __init__(self, octet: int) -> None:
            self.network = ipaddress.IPv4Network(f"127.{octet}.0.0/16")

        def close(self) -> None:
            closed.append(str(self.network))

    offers = iter([Held(37), Held(38)])
    monkeypatch.setattr(garden_mod, "reserve_loopback_network", lambda: next(offers))
    network, reservation = garden_mod.reserve_container_network(avoid=vm)
    assert network.network == ipaddress.IPv4Network("127.38.0.0/16")
    assert closed == ["127.37.0.0/16"]  # held while looking for another, then given back
    assert network.acquire() == "127.38.0.1"
    reservation.close()


def _cell(address: str, **garden_props: int) -> Cell:
    return Cell("cell-1", "10.244.16.2", address, "cell1", {"diego": "0.1434.0"},
                {"garden": {"port_pool": garden_props}} if garden_props else {})


def test_net_in_skips_a_port_something_else_holds(forwarder: NetInForwarder,
                                                  network: ipaddress.IPv4Network) -> None:
    cell_address = _host(network, 2)
    squatter = socket.create_server((cell_address, 60000))
    garden = Garden(ContainerNetwork(ipaddress.IPv4Network("127.99.0.0/29")), forwarder)
    try:
        container = garden.create(_cell(cell_address), "handle", [8080])
        assert [(m.external, m.internal) for m in container.mappings] == [(60001, 8080)]
        container.destroy()
        # released ports go to the back of the pool, the skipped one included
        again = garden.create(_cell(cell_address), "handle-2", [8080])
        assert again.external_port(8080) == 60002
        again.destroy()
    finally:
        squatter.close()


def test_port_pool_comes_from_the_cells_garden_properties(forwarder: NetInForwarder,
                                                          network: ipaddress.IPv4Network) -> None:
    garden = Garden(ContainerNetwork(ipaddress.IPv4Network("127.99.0.0/29")), forwarder)
    cell = _cell(_host(network, 2), start=61500, size=1)
    container = garden.create(cell, "a", [8080])
    assert container.external_port(8080) == 61500
    with pytest.raises(GardenError, match="port pool is exhausted"):
        garden.create(cell, "b", [8080])
    container.destroy()
    # the failed creation gave its address back: the /29 has room for both again
    assert garden.create(cell, "c", [8080]).external_port(8080) == 61500


# ------------------------------------------------------------------ the app's environment


def test_environment_of_an_instance(tmp_path: Path, forwarder: NetInForwarder,
                                    network: ipaddress.IPv4Network) -> None:
    garden = Garden(ContainerNetwork(ipaddress.IPv4Network("127.99.0.0/29")), forwarder)
    cell = _cell(_host(network, 2))
    container = garden.create(cell, "h", [8080])
    cc_vcap = {"application_name": "app", "limits": {"mem": 64}, "uris": ["app.bosh-lite.com"], "x": "<&>"}
    desired = DesiredLRP("pg", "app-guid", "app", 1, Droplet("d", "app-guid", tmp_path, "true"),
                         {"VCAP_APPLICATION": json.dumps(cc_vcap), "MEMORY_LIMIT": "64m"}, [])
    actual = ActualLRP("pg", "app-guid", 3, "instance-guid")
    env = rep.instance_env(desired, actual, cell, container, tmp_path)
    external = container.external_port(8080)
    assert env["PORT"] == "8080" and "VCAP_APP_PORT" not in env
    assert env["CF_INSTANCE_PORTS"] == f'[{{"external":{external},"internal":8080}}]'
    assert env["CF_INSTANCE_ADDR"] == f"10.244.16.2:{external}"
    assert env["VCAP_APP_HOST"] == container.address
    assert env["MEMORY_LIMIT"] == "64m"
    assert env["VCAP_APPLICATION"] == (
        '{"application_name":"app","host":"0.0.0.0","instance_id":"instance-guid","instance_index":3,'
        '"limits":{"mem":64},"port":8080,"uris":["app.bosh-lite.com"],"x":"\\u003c\\u0026\\u003e"}')
    # the rep property that turns the executor's networking variables off
    quiet = Cell(cell.id, cell.ip, cell.address, cell.deployment, cell.versions,
                 {"diego": {"executor": {"export_network_env_vars": False}}})
    env = rep.instance_env(desired, actual, quiet, container, tmp_path)
    assert not {"CF_INSTANCE_IP", "CF_INSTANCE_PORT", "CF_INSTANCE_ADDR", "CF_INSTANCE_PORTS"} & set(env)
    assert env["PORT"] == "8080" and env["CF_INSTANCE_INDEX"] == "3"
    container.destroy()


def test_launcher_leaves_a_missing_or_broken_vcap_application_alone() -> None:
    assert rep.launcher_vcap_application({}) is None
    assert rep.launcher_vcap_application({"VCAP_APPLICATION": "not json"}) is None
    assert rep.launcher_vcap_application({"VCAP_APPLICATION": "[]"}) is None
    assert json.loads(rep.launcher_vcap_application({"VCAP_APPLICATION": "{}", "PORT": "x"}) or "") == {
        "host": "0.0.0.0", "instance_id": ""}
