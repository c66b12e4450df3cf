"""The experimental `/v3` of the deployed CC, as far as v2-pushed apps can be seen through it.

In cf v220 (CC 64d935a) and v231 (CC b7cf099) a v3 *app* (`AppModel`, table `apps_v3`) is a
different record from a v2 app: an app pushed through `/v2/apps` has no `app_guid` and is no
v3 app, so `GET /v3/apps?names=...` never lists it and `/v3/apps/<v2 guid>/...` is a 404.
What v3 does show of a v2 app is its *process*: `ProcessesController` reads the v2 `App`
table (`App.where(guid:)`), so a v2 app is the v3 process with its own guid and type `web`.
Hence what is served here, per era:

* `GET /v3/apps` (empty: the simulator creates no v3 apps), `GET /v3/apps/<guid>` (404),
* `GET /v3/processes`, `GET /v3/processes/<guid>`: v2 apps as processes (ProcessPresenter),
* `DELETE /v3/processes/<guid>/instances/<index>`: terminate one instance (both eras),
* `GET /v3/processes/<guid>/stats`: only at v231 (config/routes.rb @b7cf099).

Links are relative (`/v3/processes/<guid>`) and errors have the v2 shape, as both CCs
rendered them (ErrorPresenter). Creating v3 apps, packages and droplets (experimental in
both eras) is not simulated: nothing in the suite or in cf v6 push uses them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode

from simulator.cloudcontroller.errors import CCError
from simulator.cloudcontroller.models import App

if TYPE_CHECKING:
    from simulator.cloudcontroller.cc import CloudController

DEFAULT_PER_PAGE = 50


def paginate(records: list[Any], base_url: str, page: int, per_page: int,
             render: Callable[[Any], dict[str, Any]]) -> dict[str, Any]:
    """PaginationPresenter#present_pagination_hash: relative hrefs, query keys sorted as
    Rails' `to_query` sorts them."""
    total = len(records)
    last = max(1, -(-total // per_page))

    def href(n: int) -> dict[str, str]:
        return {"href": f"{base_url}?{urlencode(sorted({'page': n, 'per_page': per_page}.items()))}"}

    return {"pagination": {"total_results": total, "first": href(1), "last": href(last),
                           "next": href(page + 1) if page + 1 <= last else None,
                           "previous": href(page - 1) if page > 1 else None},
            "resources": [render(r) for r in records[(page - 1) * per_page: page * per_page]]}


def page_args(args: Any) -> tuple[int, int]:
    try:
        page = int(args.get("page", 1))
        per_page = int(args.get("per_page", DEFAULT_PER_PAGE))
    except ValueError:
        raise CCError("BadQueryParameter", "Page must be an integer, Per page must be an integer")
    if page < 1 or per_page < 1:
        raise CCError("BadQueryParameter", "Page must be greater than 0, Per page must be greater than 0")
    return page, per_page


class V3Views:
    def __init__(self, cc: CloudController) -> None:
        self.cc = cc

    # ------------------------------------------------------------------ apps (v3 AppModel)

    def apps(self) -> list[Any]:
        """v3 apps: the simulator creates none, and no v2 app is one."""
        return []

    def app(self, guid: str) -> dict[str, Any]:
        raise CCError("ResourceNotFound", "App not found")

    # ------------------------------------------------------------------ processes (= v2 apps)

    def process_record(self, guid: str) -> App:
        app = self.cc.apps.app_by_guid(guid)
        if app is None:
            raise CCError("ResourceNotFound", "Process not found")
        return app

    def processes(self) -> list[App]:
        return sorted(self.cc.store.all("apps"), key=lambda a: (a.created_at, a.guid))

    @staticmethod
    def process(app: App) -> dict[str, Any]:
        """ProcessPresenter#process_hash (same at 64d935a and b7cf099); a v2 app has no
        `app_guid`, hence the empty app link."""
        g = app.guid
        return {"guid": g, "type": "web", "command": app.command, "instances": app.instances,
                "memory_in_mb": app.memory, "disk_in_mb": app.disk_quota,
                "created_at": app.created_at, "updated_at": app.updated_at,
                "links": {"self": {"href": f"/v3/processes/{g}"},
                          "scale": {"href": f"/v3/processes/{g}/scale", "method": "PUT"},
                          "app": {"href": "/v3/apps/"},
                          "space": {"href": f"/v2/spaces/{app.space_guid}"}}}

    def terminate(self, guid: str, index: str) -> None:
        """ProcessesController#terminate: 404 `Instance not found` outside 0..instances-1."""
        app = self.process_record(guid)
        try:
            number = int(index)
        except ValueError:
            number = 0  # Ruby's `to_i` of a non-number
        if not 0 <= number < app.instances:
            raise CCError("ResourceNotFound", "Instance not found")
        self.cc.instances.restart_instance(guid, number)

    def process_stats(self, guid: str) -> dict[str, Any]:
        """ProcessStatsPresenter over the v2 stats (`instances_reporters.stats_for_app`), v231
        only; unpaginated pagination block."""
        if not self.cc.settings.era().v3_process_stats:
            raise CCError("NotFound")
        self.process_record(guid)
        stats = self.cc.instances.stats(guid)
        resources = []
        for index, entry in sorted(stats.items(), key=lambda kv: int(kv[0])):
            s = entry.get("stats") or {}
            usage = s.get("usage") or {}
            resources.append({"type": "web", "index": int(index), "state": entry.get("state"),
                              "usage": {k: usage.get(k) for k in ("time", "cpu", "mem", "disk")},
                              "host": s.get("host"), "port": s.get("port"), "uptime": s.get("uptime"),
                              "mem_quota": s.get("mem_quota"), "disk_quota": s.get("disk_quota"),
                              "fds_quota": s.get("fds_quota")})
        base = f"/v3/processes/{guid}/stats"
        return {"resources": resources,
                "pagination": {"total_results": len(resources), "first": {"href": base},
                               "last": {"href": base}, "next": None, "previous": None}}
