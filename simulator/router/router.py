"""HAProxy + gorouter semantics over the route table, as gorouter 5b91133 (cf v220) and
9a19ec5 (cf v231) have them.

Who answers what, as on a cf-release BOSH-Lite:
* `haproxy` not running: the connection is closed (see `front.py`);
* `gorouter` not running: HAProxy's own 503 page;
* system hosts (api, uaa, login, doppler, loggregator . system domain) go to the in-process
  components while their job template runs, else 404 unknown_route (their route registrar is
  gone); there is no log-cache in either era;
* app hosts: round robin over the registered endpoints (there is no `X-CF-APP-INSTANCE`: it
  came to gorouter in Sept. 2016, commit 1647c65c; the header is passed on and ignored),
  another endpoint tried when a connection is refused, 502 endpoint_failure when none
  answers, 404 unknown_route for hosts nobody registered. One RTR log line per request;
* an upgrade request (`Connection: upgrade`, `Upgrade: websocket`) is relayed byte for byte
  to the backend, which answers the handshake itself (request_handler.go serveWebSocket).

To the backend the router adds `X-Forwarded-For`, `X-Request-Start` (unless present),
`X-Vcap-Request-Id` (a new uuid, replacing the client's), `X-CF-ApplicationID` and
`X-CF-InstanceID` (request_handler.go:259-306, proxy_round_tripper.go:78-79). Clients get
`X-Vcap-Router`, `X-Vcap-Backend`, `X-Cf-RouteEndpoint` only when their `X-Vcap-Trace`
equals `router.trace_key` (proxy.go:231-233); never an `X-Vcap-Request-Id` of the router's.
"""

from __future__ import annotations

import http.client
import threading
import time
import uuid
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from simulator.router import wsgi
from simulator.router.front import (
    HOP_BY_HOP,
    DropConnection,
    FrontServer,
    HaproxyTls,
    Request,
    Response,
    TlsTcpFront,
    Tunnel,
)
from simulator.router.table import RouteEntry, RouteTable, RouteTag, normalize_host

if TYPE_CHECKING:
    from simulator.world import World

CONNECT_TIMEOUT = 2.0
BACKEND_TIMEOUT = 60.0
MAX_ATTEMPTS = 3
# host prefix -> (component name in world.components, job template that serves it, the
# port its route registrar announces: what trace headers name as the backend)
SYSTEM_HOSTS: dict[str, tuple[str, str, int]] = {
    "api": ("cc", "cloud_controller_ng", 9022),
    "uaa": ("uaa", "uaa", 8080),
    "login": ("uaa", "uaa", 8080),
    "doppler": ("logs", "loggregator_trafficcontroller", 8081),  # outgoing_dropsonde_port
    "loggregator": ("logs", "loggregator_trafficcontroller", 8080),  # traffic_controller.outgoing_port
}
DEFAULT_TRACE_KEY = "22"  # cf-release jobs/gorouter/spec router.trace_key (v220 and v231)
HEARTBEAT_AGENT = "HTTP-Monitor/1.1"  # proxy.go isLoadBalancerHeartbeat
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
            tcp = TlsTcpFront((host, 0), self, self.tls, plain.server_address[:2])
            tcp.start()
            self.fronts.append(tcp)  # type: ignore[arg-type]
            self.world.publish(f"*.{domain}:4443", tcp.server_address[:2])

    def close(self) -> None:
        stoppers = [threading.Thread(target=front.stop, daemon=True) for front in self.fronts]
        for t in stoppers:
            t.start()
        for t in stoppers:
            t.join(5.0)
        self.fronts.clear()

    # -- request handling -------------------------------------------------------------

    def handle(self, req: Request) -> Response | Tunnel:
        if not self.haproxy_up():
            raise DropConnection()
        if not self.gorouter_up():
            return Response(503, [("Cache-Control", "no-cache"), ("Content-Type", "text/html")],
                            HAPROXY_503, close=True)
        if req.header("User-Agent") == HEARTBEAT_AGENT:
            return Response(200, [("Cache-Control", "private, max-age=0"), ("Expires", "0")], b"ok\n",
                            close=True)
        host = normalize_host(req.header("Host") or "")
        system = self._system_target(host)
        if system is not None:
            return self._serve_system(req, host, *system)
        return self._serve_app(req, host)

    def _system_target(self, host: str) -> tuple[str, str, int] | None:
        suffix = "." + self.world.system_domain
        if host.endswith(suffix):
            return SYSTEM_HOSTS.get(host[: -len(suffix)])
        return None

    def _serve_system(self, req: Request, host: str, component: str, template: str,
                      port: int) -> Response | Tunnel:
        part = self.world.components.get(component)
        app = getattr(part, "wsgi", None)
        running = self.world.running_with(template)
        if app is None or not running:
            return self._unknown_route(req)
        request_id = str(uuid.uuid4())
        headers = self._forwarded(req, request_id)
        upgrade_to = getattr(part, "upgrade_address", None)
        if is_upgrade(req) and upgrade_to is not None:
            return Tunnel(upgrade_to, _request_head(req, headers))
        environ = wsgi.build_environ(req.method, req.target, list(headers.items()), req.body, req.scheme,
                                     req.server_port, req.client)
        try:
            status, out, body = wsgi.call(app, environ)
        except Exception:  # a broken component answers like a broken backend
            import traceback

            traceback.print_exc()
            return _text(502, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                         "endpoint_failure")
        backend = (running[0].ips[0] if running[0].ips else "127.0.0.1", port)
        return Response(status, out + self._trace(req, backend), body)

    @staticmethod
    def _unknown_route(req: Request) -> Response:
        """HandleMissingRoute: the Host header as the client sent it, port and all."""
        return _text(404, f"404 Not Found: Requested route ('{req.header('Host') or ''}') does not exist.\n",
                     "unknown_route")

    def _serve_app(self, req: Request, host: str) -> Response | Tunnel:
        entries = self.table.lookup(host)
        if not entries:
            return self._unknown_route(req)
        fault = self._route_outage(entries[0].tag, req)
        if fault is not None:
            return fault
        if is_upgrade(req):
            request_id = str(uuid.uuid4())
            headers = self._forwarded(req, request_id)
            return Tunnel(entries[0].endpoint, _request_head(req, headers))
        return self._proxy(req, host, entries)

    def trace_key(self) -> str:
        routers = self.world.running_with("gorouter")
        return str(routers[0].prop("router.trace_key", DEFAULT_TRACE_KEY)) if routers else DEFAULT_TRACE_KEY

    def _trace(self, req: Request, backend: tuple[str, int]) -> list[tuple[str, str]]:
        """Trace headers, only for a request whose X-Vcap-Trace is the trace key."""
        if req.header("X-Vcap-Trace") != self.trace_key():
            return []
        routers = self.world.running_with("gorouter")
        router_ip = routers[0].ips[0] if routers and routers[0].ips else ""
        addr = f"{backend[0]}:{backend[1]}"
        return [("X-Vcap-Router", router_ip), ("X-Vcap-Backend", addr), ("X-Cf-RouteEndpoint", addr)]

    def _route_outage(self, tag: RouteTag, req: Request) -> Response | None:
        faults = self.world.faults
        host = normalize_host(req.header("Host") or "")
        fault = (faults.active("route_outage", tag.app_name) or faults.active("route_outage", tag.app_guid)
                 or faults.active("route_outage", host))
        if fault is None:
            return None
        status = int(fault.params.get("status", 502))
        if status == 404:
            return self._unknown_route(req)
        return _text(status, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                     "endpoint_failure")

    def _proxy(self, req: Request, host: str, entries: list[RouteEntry]) -> Response:
        request_id = str(uuid.uuid4())
        started = time.monotonic()
        forwarded = self._forwarded(req, request_id)
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
                             headers=self._backend_headers(req, entry, forwarded))
                backend = conn.getresponse()
                body = backend.read()
                headers = [(k, v) for k, v in backend.getheaders() if k.lower() not in HOP_BY_HOP]
                status = backend.status
            except (OSError, http.client.HTTPException):
                resp = _text(502, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                             "endpoint_failure", self._trace(req, entry.public or entry.endpoint))
                self._log_access(req, host, entry, resp.status, len(resp.body), request_id, started)
                return resp
            finally:
                conn.close()
            self._log_access(req, host, entry, status, len(body), request_id, started)
            return Response(status, headers + self._trace(req, entry.public or entry.endpoint), body)
        resp = _text(502, "502 Bad Gateway: Registered endpoint failed to handle the request.\n",
                     "endpoint_failure")
        self._log_access(req, host, entries[0], resp.status, len(resp.body), request_id, started)
        return resp

    @staticmethod
    def _forwarded(req: Request, request_id: str) -> dict[str, str]:
        """The request as HAProxy and gorouter pass it on: HAProxy's `option forwardfor` and
        `reqadd X-Forwarded-Proto` (http mode), then gorouter's X-Forwarded-For (prior values
        joined with ", "), X-Request-Start unless present, a fresh X-Vcap-Request-Id."""
        headers: dict[str, str] = {}
        for name, value in req.headers:
            if name.lower() in HOP_BY_HOP and name.lower() not in ("connection", "upgrade"):
                continue
            if name.lower() == "content-length":
                continue
            key = next((k for k in headers if k.lower() == name.lower()), name)
            headers[key] = f"{headers[key]}, {value}" if key in headers else value
        for key in [k for k in headers if k.lower() in ("x-forwarded-for", "x-vcap-request-id",
                                                         "x-forwarded-proto", "x-request-start")]:
            headers[key.title() if key.lower() != "x-vcap-request-id" else "X-Vcap-Request-Id"] = headers.pop(key)
        prior = headers.get("X-Forwarded-For")
        headers["X-Forwarded-For"] = f"{prior}, {req.client[0]}" if prior else req.client[0]
        if req.scheme in ("http", "https"):  # the http-mode frontends; :4443 is tcp mode
            proto = headers.get("X-Forwarded-Proto")
            headers["X-Forwarded-Proto"] = f"{proto}, {req.scheme}" if proto else req.scheme
        headers.setdefault("X-Request-Start", str(int(time.time() * 1000)))
        headers["X-Vcap-Request-Id"] = request_id
        return headers

    @staticmethod
    def _backend_headers(req: Request, entry: RouteEntry, forwarded: dict[str, str]) -> dict[str, str]:
        headers = {k: v for k, v in forwarded.items() if k.lower() not in ("connection", "upgrade")}
        headers["X-CF-ApplicationID"] = entry.tag.app_guid
        headers["X-CF-InstanceID"] = entry.tag.instance_guid or f"{entry.endpoint[0]}:{entry.endpoint[1]}"
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


def is_upgrade(req: Request) -> bool:
    """proxy.go isWebSocketUpgrade: `Connection` contains "upgrade" and `Upgrade: websocket`."""
    connection = ",".join(v for k, v in req.headers if k.lower() == "connection").lower()
    return "upgrade" in connection and (req.header("Upgrade") or "").lower() == "websocket"


def _request_head(req: Request, headers: dict[str, str]) -> bytes:
    """The request as gorouter writes it to the backend (`request.Write(connection)`)."""
    lines = [f"{req.method} {req.target} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    if req.body:
        lines.append(f"Content-Length: {len(req.body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + req.body


def attach(world: World) -> None:
    router = Router(world, HaproxyTls.attach(world))
    router.start()
    world.components["router"] = router
