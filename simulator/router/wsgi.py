"""Calling an in-process WSGI app from the router front (CC, UAA, loggregator).

The front is a plain `http.server` handler (it must also proxy raw HTTP to app instances),
so system hosts are served by building a WSGI environ and collecting the response here.
"""

from __future__ import annotations

import io
import sys
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import unquote_to_bytes

WsgiApp = Callable[[dict[str, Any], Callable[..., Any]], Iterable[bytes]]


def build_environ(method: str, target: str, headers: list[tuple[str, str]], body: bytes,
                  scheme: str, server_port: int, client: tuple[str, int]) -> dict[str, Any]:
    path, _, query = target.partition("?")
    if path.startswith(("http://", "https://")):  # absolute-form request target
        path = "/" + path.split("/", 3)[3] if path.count("/") >= 3 else "/"
    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": unquote_to_bytes(path).decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "SERVER_PORT": str(server_port),
        "REMOTE_ADDR": client[0],
        "REMOTE_PORT": str(client[1]),
        "CONTENT_LENGTH": str(len(body)) if body else "",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": scheme,
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
        "REQUEST_URI": target,
        "RAW_URI": target,
    }
    host = ""
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key == "CONTENT_TYPE":
            environ["CONTENT_TYPE"] = value
            continue
        if key == "CONTENT_LENGTH" or key == "TRANSFER_ENCODING":
            continue
        if key == "HOST":
            host = value
        hkey = "HTTP_" + key
        environ[hkey] = f"{environ[hkey]},{value}" if hkey in environ else value
    environ["SERVER_NAME"] = host.rsplit(":", 1)[0] if host else "localhost"
    return environ


def call(app: WsgiApp, environ: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    """Run the app; (status code, headers, whole body)."""
    captured: dict[str, Any] = {}

    def start_response(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Callable[
            [bytes], None]:
        captured["status"] = status
        captured["headers"] = headers
        return chunks.append

    chunks: list[bytes] = []
    result = app(environ, start_response)
    try:
        for chunk in result:
            if chunk:
                chunks.append(chunk)
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            close()
    status = int(str(captured.get("status", "500")).split(" ", 1)[0])
    return status, list(captured.get("headers", [])), b"".join(chunks)
