"""The shared state of one simulated BOSH-Lite, and the events that tie its parts together.

The director owns VMs and instances; the Cloud Foundry and Diego components do not know
about BOSH at all. They only ask the world which job templates are running where, and they
are told (synchronously, on the director's task thread) when an instance starts, is about to
stop (drain), has stopped, or is deleted. That mirrors a real BOSH-Lite: what is deployed
decides what works.
"""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from simulator.faults import Faults

# --------------------------------------------------------------------------------------
# Timing profiles


@dataclass(frozen=True)
class Profile:
    """Durations (seconds) of everything the simulator makes wait."""

    name: str
    task_queue_delay: float  # queued -> processing
    stage_step: float  # each "Preparing deployment"/"Compiling packages" event
    instance_update: float  # stop -> update -> start of one instance
    canary_watch: float  # watch time after a canary
    update_watch: float  # watch time after a non-canary instance
    app_stage: float  # staging an app
    route_emit_interval: float  # route_emitter re-registration period
    router_ttl: float  # gorouter prunes routes not refreshed for this long
    evacuation_timeout: float  # rep: evacuating instances die after this long
    converge_interval: float  # converger: how often crashed instances are restarted
    component_start: float  # a CF/Diego component is usable this long after its job runs
    # between a stopping instance's route unregistration and its process stop: requests the
    # router already sent to it finish, as they do on a real cell
    unregister_grace: float = 0.2


PROFILES: dict[str, Profile] = {
    "fast": Profile(
        name="fast",
        task_queue_delay=0.02,
        stage_step=0.02,
        instance_update=0.15,
        canary_watch=0.05,
        update_watch=0.05,
        app_stage=0.1,
        route_emit_interval=0.3,
        router_ttl=2.0,
        # a drain waits until the replacement runs (or this long): under CPU load starting a
        # replacement can take seconds, and a real rep waits 10 minutes by default
        evacuation_timeout=30.0,
        converge_interval=0.5,
        component_start=0.05,
    ),
    "realistic": Profile(
        name="realistic",
        task_queue_delay=0.5,
        stage_step=1.0,
        instance_update=8.0,
        canary_watch=5.0,
        update_watch=5.0,
        app_stage=5.0,
        route_emit_interval=20.0,
        router_ttl=120.0,
        evacuation_timeout=60.0,
        converge_interval=30.0,
        component_start=2.0,
        unregister_grace=1.0,
    ),
}

# --------------------------------------------------------------------------------------
# Addresses: BOSH-Lite VM addresses are translated into a private loopback /16


VM_NETWORK = ipaddress.IPv4Network("10.244.0.0/16")
DEFAULT_LOOPBACK_NETWORK = ipaddress.IPv4Network("127.37.0.0/16")


@dataclass(frozen=True)
class AddressMap:
    """Maps the 10.244.0.0/16 BOSH-Lite network onto 127.<octet>.0.0/16, ports unchanged.

    Whatever "runs on" a VM (an app instance, redis-server, the ssh proxy) binds to the
    translated address, so the director can report the real-looking IP while nothing ever
    connects outside 127.0.0.0/8. The suite config carries the same translation in its
    `resolve` map ("10.244.0.0/16": "127.<octet>.0.0/16").
    """

    vm_network: ipaddress.IPv4Network = VM_NETWORK
    loopback_network: ipaddress.IPv4Network = DEFAULT_LOOPBACK_NETWORK

    def to_loopback(self, vm_ip: str) -> str:
        ip = ipaddress.IPv4Address(vm_ip)
        if ip not in self.vm_network:
            raise ValueError(f"{vm_ip} is not in the simulated VM network {self.vm_network}")
        offset = int(ip) - int(self.vm_network.network_address)
        return str(ipaddress.IPv4Address(int(self.loopback_network.network_address) + offset))


# --------------------------------------------------------------------------------------
# What components see of BOSH instances


def dig(props: Any, dotted: str, default: Any = None) -> Any:
    """`dig(p, "uaa.scim.users")` = p["uaa"]["scim"]["users"], or `default` when absent."""
    node: Any = props
    for key in dotted.split("."):
        if not isinstance(node, dict) or key not in node:
            return default
        node = node[key]
    return node



@dataclass(frozen=True)
class JobTemplate:
    name: str
    release: str
    release_version: str


@dataclass
class InstanceView:
    """One BOSH instance as the CF/Diego/Redis components see it (a live object; the
    director updates `state`, `job_state` and `templates` in place)."""

    deployment: str
    group: str  # instance group / job name, e.g. "cell_z1"
    index: int
    id: str  # uuid
    ips: list[str]
    templates: list[JobTemplate]
    properties: dict[str, Any]  # global properties deep-merged with the job's properties
    state: str = "started"  # started | stopped | detached
    job_state: str = "running"  # running | starting | stopped | failing

    @property
    def running(self) -> bool:
        return self.state == "started" and self.job_state == "running"

    def has_template(self, name: str) -> bool:
        return any(t.name == name for t in self.templates)

    def template(self, name: str) -> JobTemplate | None:
        return next((t for t in self.templates if t.name == name), None)

    def prop(self, dotted: str, default: Any = None) -> Any:
        """A property by dotted path (`"diego.ssh_proxy.host_key"`), or `default` when absent:
        how every component reads its settings from what is deployed."""
        return dig(self.properties, dotted, default)

    def release_version(self, release: str) -> str | None:
        return next((t.release_version for t in self.templates if t.release == release), None)


# --------------------------------------------------------------------------------------
# Events


InstanceHook = Callable[[InstanceView], None]


class EventBus:
    """Synchronous hooks, run in subscription order on the caller's thread.

    `drain` hooks may block (a cell evacuating its LRPs); the director waits for them, as a
    real director waits for a job's drain script.
    """

    EVENTS = ("started", "drain", "stopped", "deleted")

    def __init__(self) -> None:
        self._hooks: dict[str, list[InstanceHook]] = {e: [] for e in self.EVENTS}
        self._lock = threading.Lock()

    def subscribe(self, event: str, hook: InstanceHook) -> None:
        if event not in self._hooks:
            raise ValueError(f"unknown event {event!r}; known: {', '.join(self.EVENTS)}")
        with self._lock:
            self._hooks[event].append(hook)

    def emit(self, event: str, instance: InstanceView) -> None:
        with self._lock:
            hooks = list(self._hooks[event])
        for hook in hooks:
            hook(instance)


# --------------------------------------------------------------------------------------
# The world


@dataclass
class World:
    """Everything one simulator process shares. Components attach themselves as attributes
    (`director`, `uaa`, `cc`, `diego`, `router`, `logs`, `ssh`, `redis`) when they are built."""

    profile: Profile
    state_dir: Path
    addresses: AddressMap = field(default_factory=AddressMap)
    bus: EventBus = field(default_factory=EventBus)
    system_domain: str = "bosh-lite.com"
    apps_domain: str = "bosh-lite.com"
    components: dict[str, Any] = field(default_factory=dict)
    faults: Faults = field(default_factory=Faults)
    # public "host:port" (or "*.domain:port") -> "127.0.0.1:port"; becomes the config's resolve map
    published: dict[str, str] = field(default_factory=dict)
    # simulator.tls.TlsMaterial of this run: `world.tls.director_context()` is the director's
    # SSLContext and `world.tls.ca_pem` its CA. HAProxy serves what the CF deployment deploys
    # (`ha_proxy.ssl_pem`, simulator/router/front.py HaproxyTls).
    tls: Any = None
    # generated credentials of this run (never logged): bosh_username, bosh_password,
    # cf_admin_user, cf_admin_password (the suite puts the CF ones into the CF manifest)
    credentials: dict[str, str] = field(default_factory=dict)
    # start options (e.g. "preload": ["v0", "v_prime"])
    settings: dict[str, Any] = field(default_factory=dict)
    _instances: Callable[[], list[InstanceView]] = field(default=lambda: [])

    def publish(self, public: str, bound: tuple[str, int]) -> None:
        """Record that `public` (e.g. "*.bosh-lite.com:443" or "ssh.bosh-lite.com:2222") is
        served on the loopback address `bound`; the suite config's resolve map carries it."""
        self.published[public] = f"{bound[0]}:{bound[1]}"

    # The director registers the function that lists its live instances.
    def set_instance_source(self, source: Callable[[], list[InstanceView]]) -> None:
        self._instances = source

    def instances(self) -> list[InstanceView]:
        return list(self._instances())

    def running_with(self, template: str) -> list[InstanceView]:
        """Running instances (any deployment) whose job templates include `template`."""
        return [i for i in self.instances() if i.running and i.has_template(template)]

    def component_up(self, template: str) -> bool:
        return bool(self.running_with(template))
