"""The simulated BOSH Director: era.py (which director: 2015 or current), state.py (releases,
stemcells, deployments, the task runner and its locks), models.py (the operations: uploads,
deploys, state changes, deletes, errands), updater.py (update engine), errands.py,
manifest.py (parse/validate), tasks.py (task outputs), releases.py (release archives and
contents), agents.py + sshd.py + vmfs.py (what the VMs' agents do: ssh, logs), events.py,
presenters.py (JSON per era), api.py (HTTP handlers). Layers, bottom up: state; updater,
errands, agents; models; api.

`attach(world)` builds it, registers `world.components["director"]`, serves the HTTPS
listener published as `192.168.50.4:25555` and preloads the version sets named in
`world.settings["preload"]`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.director.api import DirectorApp
from simulator.director.era import era as director_era
from simulator.director.models import Director
from simulator.server import start_wsgi_listener
from simulator.world import World

PUBLIC_ADDRESS = "192.168.50.4:25555"


@dataclass
class DirectorComponent:
    director: Director
    app: DirectorApp
    listener: Any

    def close(self) -> None:
        self.listener.close()
        self.director.close()


def attach(world: World) -> None:
    era = director_era(world.settings.get("director_era"))
    director = Director(world, world.credentials.get("bosh_username", "admin"),
                        world.credentials.get("bosh_password", "admin"), era=era)
    director.preload(list(world.settings.get("preload", ["v0", "v_prime"])))
    app = DirectorApp(director, str(world.settings.get("director_auth") or era.default_auth),
                      f"https://{PUBLIC_ADDRESS}")
    ssl_context = world.tls.director_context() if world.tls is not None else None
    listener = start_wsgi_listener(app, ssl_context, name="director")
    world.components["director"] = DirectorComponent(director, app, listener)
    world.publish(PUBLIC_ADDRESS, listener.address)
