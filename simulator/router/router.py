"""HAProxy + gorouter semantics over the route table.

Who answers what, as on a cf-release BOSH-Lite:
* `haproxy` not running: the connection is closed (see `front.py`);
* `gorouter` not running: HAProxy's own 503 page;
* system hosts (api, uaa, login, doppler, loggregator, log-cache . system domain) go to the
  in-process WSGI apps while their job template runs, else 404 unknown_route (their route
  registrar is gone);
* app hosts: round robin over the registered endpoints, `X-CF-APP-INSTANCE` to pin one
  instance, another endpoint tried when a connection is refused, 502 endpoint_failure when
  none answers, 404 unknown_route for hosts nobody registered. One RTR log line per request.
"""

from __future__ import annotations

import http.client
import re
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from simulator.router import wsgi
from simulator.router.front import HOP_BY_HOP, DropConnection, FrontServer, HaproxyTls, Request, Response
from simulator.router.table import RouteEntry, RouteTable, RouteTag, normalize_host

if TYPE_CHECKING:
    from simulator.world import World

CONNECT_TIMEOUT = 2.0
BACKEND_TIMEOUT = 60.0
MAX_ATTEMPTS = 3
# host prefix -> (component name in world.components, job template that serves it)
SYSTEM_HOSTS: dict[str, tuple[str, str]] = {
    "api": ("cc", "cloud_controller_ng"),
    "uaa": ("uaa", "uaa"),
    "login": ("uaa", "uaa"),
    "doppler": ("logs", "loggregator_trafficcontroller"),
    "loggregator": ("logs", "loggregator_trafficcontroller"),
    "log-cache": ("logs", "loggregator_trafficcontroller"),
}
APP_INSTANCE_HEADER = re.compile(r"^([0-9A-Za-z-]+):(\d+)$")
HAPROXY_503 = (b"<html><body><h1>503 Service Unavailable</h1>\n"
               b"No server is available to handle this request.\n</body></html>\n")


def _text(status: int, body: str, error: str | None = None, extra: list[tuple[str, str]] | None = None,
          close: bool = False) -> Response:
    headers = [("Content-Type", "text/plain; charset=utf-8")]
    if error:
        headers.append(("X-Cf-Routererror", error))
    return Response(status, headers + (extra or []), body.encode(), close)


class Router:
    """`world.components["router"]`: the route table and the HAProxy/gorouter fronts."""

    def __init__(self, world: World, tls: HaproxyTls | None) -> None:
        self.world = world
        self.table = RouteTable(world.profile.router_ttl)
        self.tls = tls  # HAProxy's certificate: what the CF deployment deploys (front.HaproxyTls)
        self.fronts: list[FrontServer] = []

    # -- the contract used by diego's route emitter -----------------------------------

    def register(self, host: str, endpoint: tuple[str, int], tag: RouteTag,
                 public: tuple[str, int] | None = None) -> None:
        self.table.register(host, endpoint, tag, public)

    def unregister(self, host: str, endpoint: tuple[str, int], tag: RouteTag | None = None) -> None:
        self.table.unregister(host, endpoint)

    def registered(self, host: str, endpoint: tuple[str, int]) -> bool:
        return self.table.registered(host, endpoint)

    def routes(self) -> dict[str, list[RouteEntry]]:
        return self.table.snapshot()

    # -- component state --------------------------------------------------------------

    def haproxy_up(self) -> bool:
        return self.world.component_up("haproxy")

    def gorouter_up(self) -> bool:
        return self.world.component_up("gorouter")

    # -- listeners --------------------------------------------------------------------

    def start(self, host: str = "127.0.0.1") -> None:
        domain = self.world.system_domain
        plain = FrontServer((host, 0), self)
        plain.start()
        self.fronts.append(plain)
        self.world.publish(f"*.{domain}:80", plain.server_address[:2])
        if self.tls is not None:
            secure = FrontServer((host, 0), self, self.tls)
            secure.start()
            self.fronts.append(secure)
            self.world.publish(f"*.{domain}:443", secure.server_address[:2])

    def close(self) -> None:
        stoppers = [threading.Thread(target=front.stop, daemon=True) for front in self.fronts]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(5.0)
        self.fronts.clear()

    # -- request handling -------------------------------------------------------------

    def handle(self, req: Request) -> Response:
        if not self.haproxy_up():
            raise DropConnection()
        if not self.gorouter_up():
            return Response(503, [("Cache-Control", "no-cache"), ("Content-Type", "text/html")],
                            HAPROXY_503, close=True)
        host = normalize_host(req.header("Host") or "")
        system = self._system_target(host)
        if system is not None:
            return self._serve_system(req, host, *system)
        return self._serve_app(req, host)

    def _system_target(self, host: str) -> tuple[str, str] | None:
        suffix = "." + self.world.system_domain
        if host.endswith(suffix):
            return SYSTEM_HOSTS.get(host[: -len(suffix)])
        return None

    def _serve_system(self, req: Request, host: str, component: str, template: str) -> Response:
        app = getattr(self.world.components.get(component), "wsgi", None)
        if app is None or not self.world.component_up(template):
            return self._unknown_route(host)
        environ = wsgi.build_environ(req.method, req.target, req.headers, req.body, req.scheme,
                                     req.server_port, req.client)
        try:
            status, headers, body = wsgi.call(app, environ)
        except Exception:  # a broken component answers like a broken backend
            import traceback

            traceback.print_exc()
            return _text(502, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                         "endpoint_failure")
        return Response(status, headers, body)

    @staticmethod
    def _unknown_route(host: str) -> Response:
        return _text(404, f"404 Not Found: Requested route ('{host}') does not exist.\n", "unknown_route")

    def _serve_app(self, req: Request, host: str) -> Response:
        entries = self.table.lookup(host)
        if not entries:
            return self._unknown_route(host)
        fault = self._route_outage(entries[0].tag, host)
        if fault is not None:
            return fault
        pinned = req.header("X-CF-APP-INSTANCE")
        if pinned is not None:
            match = APP_INSTANCE_HEADER.match(pinned.strip())
            if not match:
                return _text(400, "400 Bad Request: Invalid X-CF-App-Instance Header\n",
                             "invalid_cf_app_instance_header")
            guid, index = match.group(1), int(match.group(2))
            entries = [e for e in entries if e.tag.app_guid == guid and e.tag.index == index]
            if not entries:
                return _text(404, f"404 Not Found: Requested instance ('{index}') with guid ('{guid}') "
                                  f"does not exist for route ('{host}')\n", "unknown_route")
        return self._proxy(req, host, entries)

    def _route_outage(self, tag: RouteTag, host: str) -> Response | None:
        faults = self.world.faults
        fault = (faults.active("route_outage", tag.app_name) or faults.active("route_outage", tag.app_guid)
                 or faults.active("route_outage", host))
        if fault is None:
            return None
        status = int(fault.params.get("status", 502))
        if status == 404:
            return self._unknown_route(host)
        return _text(status, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                     "endpoint_failure")

    def _proxy(self, req: Request, host: str, entries: list[RouteEntry]) -> Response:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        for entry in entries[:MAX_ATTEMPTS]:
            conn = http.client.HTTPConnection(*entry.endpoint, timeout=CONNECT_TIMEOUT)
            try:
                conn.connect()
            except OSError:
                conn.close()
                continue  # like gorouter: a dial error is retried on another endpoint
            try:
                conn.sock.settimeout(BACKEND_TIMEOUT)
                conn.request(req.method, req.target, body=req.body or None,
                             headers=self._backend_headers(req, entry, request_id))
                backend = conn.getresponse()
                body = backend.read()
                headers = [(k, v) for k, v in backend.getheaders() if k.lower() not in HOP_BY_HOP]
                status = backend.status
            except (OSError, http.client.HTTPException):
                resp = _text(502, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                             "endpoint_failure")
                self._log_access(req, host, entry, resp.status, len(resp.body), request_id, started)
                return resp
            finally:
                conn.close()
            headers.append(("X-Vcap-Request-Id", request_id))
            self._log_access(req, host, entry, status, len(body), request_id, started)
            return Response(status, headers, body)
        resp = _text(502, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                     "endpoint_failure", [("X-Vcap-Request-Id", request_id)])
        self._log_access(req, host, entries[0], resp.status, len(resp.body), request_id, started)
        return resp

    @staticmethod
    def _backend_headers(req: Request, entry: RouteEntry, request_id: str) -> dict[str, str]:
        headers: dict[str, str] = {}
        for name, value in req.headers:
            if name.lower() in HOP_BY_HOP or name.lower() == "content-length":
                continue
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        forwarded = headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{forwarded}, {req.client[0]}" if forwarded else req.client[0]
        headers.setdefault("X-Forwarded-Proto", req.scheme)
        headers["X-Vcap-Request-Id"] = request_id
        headers["X-Request-Start"] = str(int(time.time() * 1000))
        headers["X-CF-ApplicationID"] = entry.tag.app_guid
        headers["X-CF-InstanceIndex"] = str(entry.tag.index)
        if req.body or req.method in ("POST", "PUT", "PATCH"):
            headers["Content-Length"] = str(len(req.body))
        return headers

    def _log_access(self, req: Request, host: str, entry: RouteEntry, status: int, size: int,
                    request_id: str, started: float) -> None:
        logs = self.world.components.get("logs")
        if logs is None:
            return
        routers = self.world.running_with("gorouter")
        router_index = str(routers[0].index) if routers else "0"
        backend = entry.public or entry.endpoint
        stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "+0000"
        line = (f'{host} - [{stamp}] "{req.method} {req.target} {req.version}" {status} {len(req.body)} {size} '
                f'"{req.header("Referer") or "-"}" "{req.header("User-Agent") or "-"}" '
                f'"{req.client[0]}:{req.client[1]}" "{backend[0]}:{backend[1]}" '
                f'x_forwarded_for:"{req.client[0]}" x_forwarded_proto:"{req.scheme}" '
                f'vcap_request_id:"{request_id}" response_time:{time.monotonic() - started:.6f} '
                f'app_id:"{entry.tag.app_guid}" app_index:"{entry.tag.index}"')
        try:
            logs.emit(entry.tag.app_guid, "RTR", router_index, line, "OUT")
        except Exception:
            pass


def attach(world: World) -> None:
    router = Router(world, HaproxyTls.attach(world))
    router.start()
    world.components["router"] = router
