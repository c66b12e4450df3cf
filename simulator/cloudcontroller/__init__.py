"""Cloud Controller v2 + UAA: `attach(world)` registers `world.components["uaa"]` and `["cc"]`."""

from __future__ import annotations

from typing import Any

from simulator.cloudcontroller.cc import CloudController
from simulator.cloudcontroller.cc_http import CloudControllerApp
from simulator.cloudcontroller.uaa import Uaa
from simulator.cloudcontroller.uaa_http import UaaApp


def attach(world: Any, access_ttl: float = 599) -> None:
    uaa = Uaa(world, access_ttl=access_ttl)
    uaa.wsgi = UaaApp(uaa)
    cc = CloudController(world)
    cc.wsgi = CloudControllerApp(cc)
    world.components["uaa"] = uaa
    world.components["cc"] = cc
    world.faults.register_action("expire_tokens", lambda fault: uaa.expire_tokens(fault.target))
    # nsync's bulker: when a job comes back (nsync, bbs ...), apply desired state that waited
    world.bus.subscribe("started", cc.bridge.on_instance_started)
