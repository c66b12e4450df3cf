"""Traffic controller and log-cache HTTP layer (wire-contracts §5) over `LogService`.

One app serves `doppler.`, `loggregator.` and `log-cache.` hosts: their paths don't collide.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.loggregator.encoding import (
    dropsonde_envelope,
    legacy_log_message,
    log_cache_envelope,
    multipart,
    new_boundary,
)

if TYPE_CHECKING:
    from simulator.loggregator.service import LogService

LOG_CACHE_VERSION = "2.11.4"
MAX_LIMIT = 1000


def _bearer(request: Request) -> str | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def _json(body: Any, status: int = 200) -> Response:
    return Response(json.dumps(body), status=status, content_type="application/json")


class LogsApp:
    def __init__(self, service: LogService) -> None:
        self.service = service
        self.url_map = Map([
            Rule("/apps/<guid>/recentlogs", endpoint="recentlogs", methods=["GET"]),
            Rule("/apps/<guid>/containermetrics", endpoint="containermetrics", methods=["GET"]),
            Rule("/recent", endpoint="legacy_recent", methods=["GET"]),
            Rule("/api/v1/info", endpoint="info", methods=["GET"]),
            Rule("/api/v1/read/<guid>", endpoint="read", methods=["GET"]),
        ])

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
        except HTTPException as exc:
            response: Response = Response(f"{exc.code} {exc.name}", status=exc.code or 404,
                                          content_type="text/plain")
        else:
            response = getattr(self, f"on_{endpoint}")(request, **args)
        return response(environ, start_response)

    def _unauthorized(self, request: Request) -> Response | None:
        """Traffic controller answers 401 with a text body; the CLI refreshes and retries."""
        token = _bearer(request)
        if token is None:
            return Response("Error: Authorization not provided", status=401, content_type="text/plain")
        if self.service.verify(token) is None:
            return Response("Error: Invalid authorization", status=401, content_type="text/plain")
        return None

    @staticmethod
    def _multipart(parts: list[bytes]) -> Response:
        boundary = new_boundary()
        return Response(multipart(parts, boundary), status=200,
                        content_type=f"multipart/x-protobuf; boundary={boundary}")

    def on_recentlogs(self, request: Request, guid: str) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        if not self.service.known_app(guid):
            return Response("Not Found", status=404, content_type="text/plain")
        return self._multipart([dropsonde_envelope(line) for line in self.service.recent(guid)])

    def on_containermetrics(self, request: Request, guid: str) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        if not self.service.known_app(guid):
            return Response("Not Found", status=404, content_type="text/plain")
        return self._multipart([])

    def on_legacy_recent(self, request: Request) -> Response:
        denied = self._unauthorized(request)
        if denied is not None:
            return denied
        guid = request.args.get("app", "")
        if not guid:
            return Response("Error: Invalid target", status=400, content_type="text/plain")
        if not self.service.known_app(guid):
            return Response("Not Found", status=404, content_type="text/plain")
        return self._multipart([legacy_log_message(line) for line in self.service.recent(guid)])

    def on_info(self, request: Request) -> Response:
        return _json({"version": LOG_CACHE_VERSION, "vm_uptime": "0"})

    def on_read(self, request: Request, guid: str) -> Response:
        token = _bearer(request)
        if token is None or self.service.verify(token) is None:
            return _json({"error": "unauthorized"}, 401)
        args = request.args
        try:
            start = int(args.get("start_time", 0))
            end = int(args["end_time"]) if "end_time" in args else None
            limit = int(args.get("limit", 100))
        except ValueError:
            return _json({"error": "invalid numeric parameter"}, 400)
        if not 1 <= limit <= MAX_LIMIT:
            return _json({"error": f"limit must be between 1 and {MAX_LIMIT}"}, 400)
        types = {t.upper() for v in args.getlist("envelope_types") for t in v.split(",") if t}
        if not self.service.known_app(guid):
            return _json({"envelopes": {"batch": []}})
        lines = [] if types and "LOG" not in types else self.service.recent(guid)
        lines = [ln for ln in lines if ln.timestamp_ns >= start and (end is None or ln.timestamp_ns < end)]
        if args.get("descending", "false").lower() == "true":
            lines = list(reversed(lines))[:limit]
        else:
            lines = lines[:limit]
        return _json({"envelopes": {"batch": [log_cache_envelope(ln) for ln in lines]}})
