"""The traffic controller's HTTP side (loggregator 2d0eb57 at cf v220, cacc328 at v231).

One app serves `doppler.<domain>` (the dropsonde proxy: `/apps/<guid>/recentlogs`,
`/apps/<guid>/containermetrics`) and `loggregator.<domain>` (the legacy proxy: `/recent?app=`,
`/dump/?app=`): their paths don't collide. Streams (`/apps/<guid>/stream`, `/tail/?app=`) are
websockets, served by `stream.py` behind the router's tunnel; asked over plain HTTP they get
the websocket library's 400, as gorilla's Upgrader answered. There is no log-cache.

What the era answered (src/trafficcontroller/dopplerproxy/doppler_proxy.go):
* anything else: 404 `Resource Not Found. <path>`;
* no token, or CC's `GET /internal/log_access/<guid>` not 200 (unknown app included): 401,
  `WWW-Authenticate: Basic`, `You are not authorized. Error: Authorization not provided` /
  `... Error: Invalid authorization` (authorization/log_access_authorizer.go);
* recent logs: `multipart/x-protobuf`, parts without headers, one dropsonde Envelope each.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import unquote_plus

from werkzeug.wrappers import Request, Response

from simulator.loggregator.encoding import dropsonde_envelope, legacy_log_message, multipart, new_boundary

if TYPE_CHECKING:
    from simulator.loggregator.service import LogService

NO_TOKEN = "Error: Authorization not provided"
INVALID_TOKEN = "Error: Invalid authorization"
APP_ENDPOINTS = ("recentlogs", "stream", "containermetrics")
LEGACY_PATHS = {"/recent": "recentlogs", "/dump/": "recentlogs", "/tail/": "stream"}


def text(status: int, body: str, headers: dict[str, str] | None = None) -> Response:
    """A Go handler's `fmt.Fprintf` answer: Go sniffs text as text/plain; charset=utf-8."""
    return Response(body, status=status, content_type="text/plain; charset=utf-8", headers=headers)


def not_found(path: str) -> Response:
    return text(404, f"Resource Not Found. {path}")


def unauthorized(reason: str) -> Response:
    return text(401, f"You are not authorized. {reason}", {"WWW-Authenticate": "Basic"})


def route(path: str, args: Any) -> tuple[str, str, bool] | None:
    """(app guid, endpoint, legacy?) of a traffic controller path, None when it is not one.
    The app guid may be empty (the caller answers `App ID missing`)."""
    if path in LEGACY_PATHS:
        guid = args.get("app", "")
        return (guid, LEGACY_PATHS[path], True) if guid else None
    parts = path.split("/")
    if len(parts) == 4 and parts[1] == "apps" and parts[3] in APP_ENDPOINTS:
        return parts[2], parts[3], False
    return None


class LogsApp:
    def __init__(self, service: LogService) -> None:
        self.service = service

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        return self.respond(request)(environ, start_response)

    def respond(self, request: Request) -> Response:
        target = route(request.path, request.args)
        if target is None:
            return not_found(request.path)
        guid, endpoint, legacy = target
        if not guid:
            return text(404, f"App ID missing. Make request to /apps/APP_ID/{endpoint}")
        denied = self.service.authorize(token_of(request.headers, request.cookies), guid)
        if denied is not None:
            return unauthorized(denied)
        if request.method == "HEAD":
            return Response(status=200)
        if endpoint == "stream":
            return text(400, "Bad Request\n", {"Sec-Websocket-Version": "13"})
        if endpoint == "containermetrics":
            return self._multipart([])  # the simulator's cells report no container metrics
        lines = self.service.recent(guid)
        encode = legacy_log_message if legacy else dropsonde_envelope
        return self._multipart([encode(line) for line in lines])

    @staticmethod
    def _multipart(parts: list[bytes]) -> Response:
        boundary = new_boundary()
        return Response(multipart(parts, boundary), status=200,
                        content_type=f"multipart/x-protobuf; boundary={boundary}")


def token_of(headers: Any, cookies: Any) -> str:
    """doppler_proxy.go getAuthToken: the `Authorization` header as is (`bearer ...`), else
    the `authorization` cookie, URL-unescaped (Go's `url.QueryUnescape`)."""
    return headers.get("Authorization") or unquote_plus(cookies.get("authorization") or "")
