"""What garden's NetIn costs in the simulator (reported, never asserted).

Each app request through the router crosses one NetIn (`simulator/diego/netin.py`): cellIP:
external -> container:8080, a userspace splice on one event loop. This measures, against a
loopback HTTP server, one request per connection (the router's pattern) directly and through a
NetIn, the same with 32 clients at once, and the bulk throughput of one spliced connection.

Run: `python benchmarks/bench_netin.py [--requests 2000] [--megabytes 256]`
"""

from __future__ import annotations

import argparse
import http.client
import socket
import statistics
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from simulator.diego.netin import NetInForwarder  # noqa: E402
from simulator.server import reserve_loopback_network  # noqa: E402


class _Server(ThreadingHTTPServer):
    request_queue_size = 128  # the default 5 drops SYNs under 32 clients and measures retransmits
    daemon_threads = True


class _Hello(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = b"hello\n"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


def one_request(address: tuple[str, int]) -> float:
    started = time.perf_counter()
    conn = http.client.HTTPConnection(*address, timeout=5)
    conn.request("GET", "/")
    conn.getresponse().read()
    conn.close()
    return time.perf_counter() - started


def sequential(address: tuple[str, int], n: int) -> list[float]:
    return [one_request(address) for _ in range(n)]


def concurrent(address: tuple[str, int], n: int, clients: int = 32) -> float:
    """Requests per second with `clients` threads sharing `n` requests."""
    per = n // clients
    threads = [threading.Thread(target=sequential, args=(address, per)) for _ in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return per * clients / (time.perf_counter() - started)


def bulk(address: tuple[str, int], megabytes: int) -> float:
    """MB/s sent through `address` to a sink that counts and answers at the end."""
    chunk = b"\0" * (1 << 20)
    started = time.perf_counter()
    with socket.create_connection(address, timeout=30) as sock:
        for _ in range(megabytes):
            sock.sendall(chunk)
        sock.shutdown(socket.SHUT_WR)
        assert sock.recv(64) == b"done"
    return megabytes / (time.perf_counter() - started)


def sink_server(host: str) -> socket.socket:
    server = socket.create_server((host, 0))

    def serve() -> None:
        while True:
            try:
                conn, _ = server.accept()
            except OSError:
                return
            with conn:
                while conn.recv(1 << 20):
                    pass
                conn.sendall(b"done")

    threading.Thread(target=serve, daemon=True).start()
    return server


def describe(name: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p99 = ordered[int(len(ordered) * 0.99) - 1]
    return f"{name}: median {statistics.median(ordered) * 1e3:.3f} ms, p99 {p99 * 1e3:.3f} ms"


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--requests", type=int, default=2000)
    ap.add_argument("--megabytes", type=int, default=256)
    args = ap.parse_args()
    reservation = reserve_loopback_network()
    net = reservation.network
    cell, container = str(net.network_address + 1), str(net.network_address + 2)
    http_server = _Server((container, 0), _Hello)
    threading.Thread(target=http_server.serve_forever, daemon=True).start()
    sink = sink_server(container)
    forwarder = NetInForwarder()
    try:
        direct = http_server.server_address[:2]
        mapped = forwarder.open((cell, 61000), direct).listen
        sequential(direct, 200), sequential(mapped, 200)  # warm up
        print(describe("request, direct", sequential(direct, args.requests)))
        print(describe("request, through NetIn", sequential(mapped, args.requests)))
        print(f"32 clients, direct: {concurrent(direct, args.requests):.0f} requests/s")
        print(f"32 clients, through NetIn: {concurrent(mapped, args.requests):.0f} requests/s")
        sink_direct = sink.getsockname()[:2]
        sink_mapped = forwarder.open((cell, 61001), sink_direct).listen
        print(f"bulk, direct: {bulk(sink_direct, args.megabytes):.0f} MB/s")
        print(f"bulk, through NetIn: {bulk(sink_mapped, args.megabytes):.0f} MB/s")
    finally:
        forwarder.close()
        http_server.shutdown()
        sink.close()
        reservation.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
