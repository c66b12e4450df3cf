"""garden-linux's container networking, as the reps of the simulated cells use it.

On a real cell each container has an address of its own (a /30 out of `garden.network_pool`,
10.254.0.0/22 by default) and the app listens there on the container port (8080). Garden's
NetIn takes an external port from its port pool (`garden.port_pool.start`/`.size`, 60000 and
5000 by default, first in first out, a released port goes to the back) and DNATs
cellIP:external to containerIP:internal. Everything outside the container (route emitter,
gorouter, TPS stats) uses cellIP:external. Sources: docs/architecture.md "Era: Diego cells
(garden containers)".

The simulator keeps that shape on loopback:
* container addresses come from a loopback /16 of their own, reserved for this run the way
  `simulator.server` reserves the VM one (a listening socket on 127.N.255.254) and never
  the VM network's /16, so they are neither a VM address nor anything else on the machine.
  The cells' pools overlap on a real BOSH-Lite (each cell has its own 10.254.0.0/22), here
  they cannot, so all cells share this /16; addresses are reused first in, first out;
* the cell's per-cell port pool is garden's, read from the cell's properties; a port that
  something else on the machine already holds on the cell's translated address is skipped;
* NetIn is `netin.NetInForwarder` (one event loop for every mapping), closed with the
  container so that a stopped instance's external port refuses connections.
"""

from __future__ import annotations

import ipaddress
import threading
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field

from simulator.diego.models import Cell
from simulator.diego.netin import Forward, NetInForwarder
from simulator.server import LoopbackReservation, reserve_loopback_network
from simulator.world import dig

DEFAULT_PORT_POOL_START = 60000  # garden-linux main.go -portPoolStart
DEFAULT_PORT_POOL_SIZE = 5000  # garden-linux main.go -portPoolSize


class GardenError(RuntimeError):
    """Garden could not create the container (the instance then fails to start)."""


class PortPool:
    """garden-linux `port_pool.PortPool`: ports start..start+size-1, handed out first in first
    out; a released port goes to the back (so it is not reused soon)."""

    def __init__(self, start: int, size: int) -> None:
        if start < 1 or size < 1 or start + size > 65535:
            raise GardenError(f"invalid port pool: start {start}, size {size}")
        self.start, self.size = start, size
        self._free: deque[int] = deque(range(start, start + size))

    def acquire(self) -> int:
        if not self._free:
            raise GardenError("port pool is exhausted")
        return self._free.popleft()

    def release(self, port: int) -> None:
        if self.start <= port < self.start + self.size and port not in self._free:
            self._free.append(port)

    def __len__(self) -> int:
        return len(self._free)


class ContainerNetwork:
    """Container addresses out of a reserved loopback network, first in first out: every
    address once, in order, before a released one comes round again. (Counted, not listed:
    a /16 has 65534 of them.)"""

    def __init__(self, network: ipaddress.IPv4Network, taken: Sequence[str] = ()) -> None:
        self.network = network
        self._skip = {int(ipaddress.IPv4Address(a)) for a in taken}
        self._next = int(network.network_address) + 1  # the next address never handed out
        self._last = int(network.broadcast_address) - 1
        self._released: deque[str] = deque()
        self._waiting: set[str] = set()  # the same addresses, for the double-release check

    def acquire(self) -> str:
        while self._next <= self._last:
            candidate, self._next = self._next, self._next + 1
            if candidate not in self._skip:
                return str(ipaddress.IPv4Address(candidate))
        if not self._released:
            raise GardenError(f"insufficient addresses remaining in the container network {self.network}")
        address = self._released.popleft()
        self._waiting.discard(address)
        return address

    def release(self, address: str) -> None:
        if ipaddress.IPv4Address(address) in self.network and address not in self._waiting:
            self._released.append(address)
            self._waiting.add(address)


@dataclass(frozen=True)
class PortMapping:
    """executor.PortMapping / the ActualLRP's net info: host (external) and container port."""

    external: int
    internal: int


@dataclass(eq=False)
class Container:
    """A garden container's networking: its address, its NetIns and where they listen."""

    handle: str
    cell_id: str
    cell_ip: str  # the cell's IP: garden's -externalIP, CF_INSTANCE_IP
    cell_address: str  # the cell's translated loopback address, where the NetIns listen
    address: str  # the container's own (loopback) address
    mappings: list[PortMapping] = field(default_factory=list)
    garden: Garden | None = field(default=None, repr=False)
    forwards: list[Forward] = field(default_factory=list, repr=False)

    def external_port(self, internal: int) -> int | None:
        return next((m.external for m in self.mappings if m.internal == internal), None)

    def net_down(self) -> None:
        """Remove the NetIns: the external ports refuse connections from now on."""
        forwards, self.forwards = self.forwards, []
        for forward in forwards:
            forward.close()

    def destroy(self) -> None:
        """Garden's destroy: NetIns gone, ports and address back to their pools. Idempotent."""
        self.net_down()
        if self.garden is not None:
            garden, self.garden = self.garden, None
            garden.release(self)


def reserve_container_network(avoid: ipaddress.IPv4Network) -> tuple[ContainerNetwork, LoopbackReservation]:
    """A loopback /16 for container addresses, held for this run, never `avoid` (the VM one:
    a simulator built without `simulator.assembly`, as tests do, has no reservation of it)."""
    rejected: list[LoopbackReservation] = []
    try:
        while True:
            reservation = reserve_loopback_network()
            if not reservation.network.overlaps(avoid):
                break
            rejected.append(reservation)  # held until we have another, so it is not picked again
    finally:
        for other in rejected:
            other.close()
    held = str(reservation.network.broadcast_address - 1)  # the reservation's own socket
    return ContainerNetwork(reservation.network, taken=[held]), reservation


class Garden:
    """Every cell's garden (networking only). `create()` is the executor's container creation
    with its NetIn calls (hostPort 0 = from the pool, as the executor asks for each LRP port)."""

    def __init__(self, network: ContainerNetwork, forwarder: NetInForwarder | None = None,
                 reservation: LoopbackReservation | None = None) -> None:
        self.network = network
        self.forwarder = forwarder or NetInForwarder()
        self.reservation = reservation
        self._pools: dict[str, PortPool] = {}
        self._lock = threading.Lock()

    @classmethod
    def reserve(cls, avoid: ipaddress.IPv4Network) -> Garden:
        network, reservation = reserve_container_network(avoid)
        return cls(network, reservation=reservation)

    def _pool(self, cell: Cell) -> PortPool:
        pool = self._pools.get(cell.id)
        if pool is None:
            start = dig(cell.properties, "garden.port_pool.start", DEFAULT_PORT_POOL_START)
            size = dig(cell.properties, "garden.port_pool.size", DEFAULT_PORT_POOL_SIZE)
            pool = self._pools[cell.id] = PortPool(int(start), int(size))
        return pool

    def create(self, cell: Cell, handle: str, ports: Sequence[int]) -> Container:
        with self._lock:
            address = self.network.acquire()
        container = Container(handle, cell.id, cell.ip, cell.address, address, garden=self)
        try:
            for internal in ports:
                self._net_in(container, cell, internal)
        except BaseException:
            container.destroy()
            raise
        return container

    def _net_in(self, container: Container, cell: Cell, internal: int) -> None:
        with self._lock:
            pool = self._pool(cell)
            attempts = len(pool)
        skipped: list[int] = []
        try:
            for _ in range(attempts):
                with self._lock:
                    external = pool.acquire()
                try:
                    forward = self.forwarder.open((cell.address, external), (container.address, internal))
                except OSError:
                    skipped.append(external)  # held by something else on this machine
                    continue
                container.forwards.append(forward)
                container.mappings.append(PortMapping(external, internal))
                return
            raise GardenError(f"cell {cell.id}: port pool is exhausted "
                              f"({len(skipped)} free ports are held by other sockets)")
        finally:
            with self._lock:
                for port in skipped:
                    pool.release(port)

    def release(self, container: Container) -> None:
        with self._lock:
            pool = self._pools.get(container.cell_id)
            for mapping in container.mappings:
                if pool is not None:
                    pool.release(mapping.external)
            self.network.release(container.address)

    def close(self) -> None:
        self.forwarder.close()
        if self.reservation is not None:
            self.reservation.close()
