"""A stand-in for the user API of the 2015 BOSH-Lite director (bosh 1.3098), for the user-data
test only: what it does is what that director's sources say, and no more.

* `GET /info` needs no auth; `user` is the user name when valid Basic credentials are sent,
  else null (bosh@5ea8a74f9d:bosh-director/lib/bosh/director/api/controllers/info_controller.rb).
* While the users table is empty only admin/admin authenticates; afterwards only the users
  in it (api/user/database_user_manager.rb:10-14).
* `POST /users` consumes exactly `application/json` (`consumes :json`, else no route: 404),
  needs an authenticated caller (401 otherwise), creates the user and answers 204
  (api/controllers/users_controller.rb:12-19).

Prints `listening 127.0.0.1 PORT`, then serves until killed; logs requests (never bodies).
"""

from __future__ import annotations

import base64
import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

USERS: dict[str, str] = {}


def _authenticated(header: str | None) -> str | None:
    if not header or not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    if not USERS:
        return user if (user, password) == ("admin", "admin") else None
    return user if USERS.get(user) == password else None


class Handler(BaseHTTPRequestHandler):
    def _send(self, status: int, body: bytes = b"", ctype: str = "application/json") -> None:
        self.send_response(status)
        if body:
            self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        if self.path != "/info":
            return self._send(404)
        user = _authenticated(self.headers.get("Authorization"))
        self._send(200, json.dumps({"name": "Bosh Lite Director", "user": user,
                                    "user_authentication": {"type": "basic", "options": {}}},
                                   separators=(",", ":")).encode())

    def do_POST(self) -> None:
        ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip()
        if self.path != "/users" or ctype != "application/json":
            return self._send(404)
        if _authenticated(self.headers.get("Authorization")) is None:
            return self._send(401, b"Not authorized: '/users'\n", "text/plain")
        body = json.loads(self.rfile.read(int(self.headers.get("Content-Length") or 0)) or b"{}")
        USERS[str(body["username"])] = str(body["password"])
        self._send(204)

    def log_message(self, fmt: str, *args: object) -> None:
        sys.stdout.write(f"{self.command} {self.path} -> {args[1] if len(args) > 1 else ''}\n")
        sys.stdout.flush()


def main() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    print(f"listening 127.0.0.1 {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
