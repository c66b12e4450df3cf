"""HAProxy front + gorouter of the simulated BOSH-Lite (see `router.py`)."""

from simulator.router.router import Router, attach
from simulator.router.table import RouteTable, RouteTag

__all__ = ["RouteTable", "RouteTag", "Router", "attach"]
