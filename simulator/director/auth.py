"""Director authentication: basic credentials, and UAA-style bearer tokens.

A real director either checks basic credentials or verifies JWTs from its UAA
(wire-contracts §2.1), never both: in "basic" mode only basic credentials count, in "uaa"
mode only bearer tokens. For "uaa" the simulator serves a minimal token endpoint, standing
in for the director's UAA (`POST /oauth/token` on the director listener: client_credentials
with the director credentials as client id/secret, or the password grant with client
`bosh_cli`), and accepts the HS256 JWTs it issued. Refresh tokens (jti ending in `-r`) are refused, as on a
real director. In "uaa" mode `/info` advertises `user_authentication.type: uaa` with the
director's own URL, so the Go CLI fetches tokens there.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
import uuid
from typing import Any

TOKEN_LIFETIME = 3600


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class DirectorAuth:
    def __init__(self, username: str, password: str, director_uuid: str) -> None:
        self.username = username
        self.password = password
        self.director_uuid = director_uuid
        self._key = secrets.token_bytes(32)

    # ------------------------------------------------------------------ basic

    def check_basic(self, value: str) -> str | None:
        try:
            user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError, ValueError):
            return None
        ok = hmac.compare_digest(user.encode(), self.username.encode()) and \
            hmac.compare_digest(password.encode(), self.password.encode())
        return user if ok else None

    # ------------------------------------------------------------------ tokens

    def _sign(self, claims: dict[str, Any]) -> str:
        header = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
        body = _b64(json.dumps(claims, separators=(",", ":")).encode())
        sig = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
        return f"{header}.{body}.{sig}"

    def verify(self, token: str) -> dict[str, Any] | None:
        """Claims of a valid, unexpired access token issued here; None otherwise."""
        try:
            header, body, sig = token.strip().split(".")
            expected = _b64(hmac.new(self._key, f"{header}.{body}".encode(), hashlib.sha256).digest())
            if not hmac.compare_digest(sig, expected):
                return None
            claims = json.loads(_unb64(body))
        except (ValueError, binascii.Error, json.JSONDecodeError):
            return None
        if str(claims.get("jti", "")).endswith("-r") or claims.get("exp", 0) < time.time():
            return None
        if not {"bosh.admin", f"bosh.{self.director_uuid}.admin"} & set(claims.get("scope", [])):
            return None
        return claims

    def issue(self, subject: str, client_id: str, grant: str) -> dict[str, Any]:
        now = int(time.time())
        base = {"sub": subject, "client_id": client_id, "user_name": subject if grant == "password" else None,
                "scope": ["bosh.admin"], "iat": now, "exp": now + TOKEN_LIFETIME, "iss": "director-uaa",
                "grant_type": grant}
        jti = uuid.uuid4().hex
        out = {"access_token": self._sign({**base, "jti": jti}), "token_type": "bearer",
               "expires_in": TOKEN_LIFETIME, "scope": "bosh.admin", "jti": jti}
        if grant == "password":
            out["refresh_token"] = self._sign({**base, "jti": f"{jti}-r", "exp": now + 10 * TOKEN_LIFETIME})
        return out

    def token_request(self, basic: str | None, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """POST /oauth/token: (status, JSON body) in UAA's shapes."""
        client_id, _, client_secret = ("", "", "")
        if basic:
            try:
                client_id, _, client_secret = base64.b64decode(basic).decode().partition(":")
            except (binascii.Error, UnicodeDecodeError):
                return 401, {"error": "unauthorized", "error_description": "Bad credentials"}
        client_id = client_id or form.get("client_id", "")
        client_secret = client_secret or form.get("client_secret", "")
        grant = form.get("grant_type", "")
        if grant == "client_credentials":
            if client_id == self.username and hmac.compare_digest(client_secret, self.password):
                return 200, self.issue(client_id, client_id, grant)
            return 401, {"error": "unauthorized", "error_description": "Bad credentials"}
        if grant == "password":
            if client_id != "bosh_cli":
                return 401, {"error": "unauthorized", "error_description": "Bad credentials"}
            if form.get("username") == self.username and hmac.compare_digest(form.get("password", ""),
                                                                             self.password):
                return 200, self.issue(self.username, client_id, grant)
            return 401, {"error": "unauthorized", "error_description": "Bad credentials"}
        if grant == "refresh_token":
            token = form.get("refresh_token", "")
            try:
                claims = json.loads(_unb64(token.split(".")[1]))
            except (IndexError, ValueError, binascii.Error, json.JSONDecodeError):
                claims = {}
            parts = token.split(".")
            if len(parts) == 3 and hmac.compare_digest(
                    parts[2], _b64(hmac.new(self._key, f"{parts[0]}.{parts[1]}".encode(), hashlib.sha256).digest())) \
                    and str(claims.get("jti", "")).endswith("-r") and claims.get("exp", 0) > time.time():
                return 200, self.issue(str(claims.get("sub")), str(claims.get("client_id")), "password")
            return 401, {"error": "invalid_token", "error_description": "Invalid refresh token"}
        return 400, {"error": "unsupported_grant_type", "error_description": f"Unsupported grant type: {grant}"}
