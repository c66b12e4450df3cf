"""UAA model: who may log in, token issuing/verification, one-time ssh codes.

Users and client secrets are read live from the properties of the running `uaa`
instances, so a deploy that changes `uaa.scim.users` changes who can log in, as on a real
BOSH-Lite. The HTTP layer is `uaa_http.py`, built over this model by `attach(world)` and
kept in `wsgi` for the router; CC, the traffic controller and the ssh-proxy call `verify`,
`issue_code` and `exchange_code` directly.
"""

from __future__ import annotations

import secrets
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from simulator.cloudcontroller import tokens
from simulator.cloudcontroller.deployed import User, dig, parse_scim_users

USER_NAMESPACE = uuid.UUID("6f0a3c52-2b1e-4b57-9d0e-5b1f5a2c0d11")
DEFAULT_USER_SCOPES = ("openid", "cloud_controller.read", "cloud_controller.write",
                       "password.write", "uaa.user")
CODE_TTL = 300.0
REFRESH_TTL = 30 * 24 * 3600


def user_guid(name: str) -> str:
    """Stable guid for a user name: CC sees the same `user_id` across logins and restarts."""
    return str(uuid.uuid5(USER_NAMESPACE, f"user:{name}"))


@dataclass(frozen=True)
class Client:
    id: str
    secret: str
    scopes: tuple[str, ...]
    authorities: tuple[str, ...]
    redirect_uri: str | None = None
    access_token_validity: float | None = None  # `access-token-validity` of the client, seconds


def _csv(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return tuple(v.strip() for v in value.split(",") if v.strip())
    if isinstance(value, list | tuple):
        return tuple(str(v) for v in value)
    return ()


class UaaError(Exception):
    """An OAuth error: HTTP status plus the `error`/`error_description` pair UAA sends."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class _Code:
    user: str
    client_id: str
    expires: float


class Uaa:
    """The `uaa` component (architecture §3): `wsgi`, `verify`, `issue_code`, `exchange_code`."""

    def __init__(self, world: Any, access_ttl: float = 599, key: bytes | None = None) -> None:
        self.world = world
        self.access_ttl = access_ttl
        self._key = key or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._codes: dict[str, _Code] = {}
        self._issued: dict[str, tuple[str, float]] = {}  # access jti -> (user or client, exp)
        self._revoked: dict[str, float] = {}  # jti -> exp
        self.wsgi: Callable[..., Any] | None = None  # uaa_http.UaaApp, set by attach()

    # ---------------------------------------------------------------- what is deployed

    def _properties(self) -> list[dict[str, Any]]:
        return [i.properties for i in self.world.running_with("uaa")]

    def system_domain(self) -> str:
        for props in self._properties():
            value = props.get("system_domain") or props.get("domain")
            if value:
                return str(value)
        return self.world.system_domain

    def users(self) -> dict[str, User]:
        found: dict[str, User] = {}
        for props in self._properties():
            for user in parse_scim_users(dig(props, "uaa.scim.users")):
                found.setdefault(user.name, user)
        return found

    def client(self, client_id: str) -> Client | None:
        for props in self._properties():
            conf = dig(props, f"uaa.clients.{client_id}")
            if isinstance(conf, dict):
                validity = conf.get("access-token-validity")
                return Client(client_id, str(conf.get("secret") or ""), _csv(conf.get("scope")),
                              _csv(conf.get("authorities")), conf.get("redirect-uri") or None,
                              float(validity) if validity is not None else None)
            if client_id == "admin" and dig(props, "uaa.admin.client_secret"):
                return Client("admin", str(dig(props, "uaa.admin.client_secret")), (),
                              ("clients.read", "clients.write", "clients.secret", "uaa.admin",
                               "scim.read", "scim.write", "password.write", "cloud_controller.admin",
                               "cloud_controller.read", "cloud_controller.write", "doppler.firehose"))
        if client_id == "cf":  # built into every cf-release UAA, never with a secret
            return Client("cf", "", (*DEFAULT_USER_SCOPES, "cloud_controller.admin"), ())
        return None

    def authenticate_client(self, client_id: str, secret: str) -> Client:
        client = self.client(client_id)
        if client is None or not secrets.compare_digest(client.secret.encode(), secret.encode()):
            raise UaaError(401, "unauthorized", "Bad credentials")
        return client

    # ---------------------------------------------------------------- tokens

    def _issue(self, claims: dict[str, Any], ttl: float) -> tuple[str, dict[str, Any]]:
        now = int(time.time())
        full = {"jti": uuid.uuid4().hex, "iat": now, "exp": int(now + ttl), "zid": "uaa",
                "iss": f"https://uaa.{self.system_domain()}/oauth/token", **claims}
        return tokens.encode(full, self._key), full

    def _user_claims(self, user: User, client: Client, grant_type: str) -> dict[str, Any]:
        scopes = sorted(set(DEFAULT_USER_SCOPES) | set(user.groups))
        return {"sub": user_guid(user.name), "user_id": user_guid(user.name), "user_name": user.name,
                "email": user.name if "@" in user.name else f"{user.name}@example.com",
                "origin": "uaa", "scope": scopes, "client_id": client.id, "cid": client.id,
                "azp": client.id, "grant_type": grant_type,
                "aud": sorted({s.split(".")[0] for s in scopes} | {client.id})}

    def access_ttl_for(self, client_id: str) -> float:
        """Access token lifetime as deployed: the client's `access-token-validity`, else
        `uaa.jwt.policy.accessTokenValiditySeconds`, else this UAA's default."""
        client = self.client(client_id)
        if client is not None and client.access_token_validity is not None:
            return client.access_token_validity
        for props in self._properties():
            value = dig(props, "uaa.jwt.policy.accessTokenValiditySeconds")
            if value is not None:
                return float(value)
        return self.access_ttl

    def _token_response(self, base: dict[str, Any], with_refresh: bool,
                        refresh_token: str | None = None) -> dict[str, Any]:
        ttl = self.access_ttl_for(str(base.get("client_id", "")))
        access, claims = self._issue(base, ttl)
        with self._lock:
            self._issued[claims["jti"]] = (str(claims.get("user_name") or claims["client_id"]),
                                           float(claims["exp"]))
        body: dict[str, Any] = {"access_token": access, "token_type": "bearer",
                                "expires_in": int(ttl), "scope": " ".join(claims["scope"]),
                                "jti": claims["jti"]}
        if with_refresh:
            if refresh_token is None:
                refresh_claims = {**base, "jti": uuid.uuid4().hex + "-r"}
                refresh_token, _ = self._issue(refresh_claims, REFRESH_TTL)
            body["refresh_token"] = refresh_token
        return body

    def password_grant(self, client: Client, username: str, password: str) -> dict[str, Any]:
        if not username or password is None:
            raise UaaError(400, "invalid_request", "Missing username or password")
        user = self.users().get(username)
        if user is None or not secrets.compare_digest(user.password.encode(), password.encode()):
            raise UaaError(401, "unauthorized", "Bad credentials")
        return self._token_response(self._user_claims(user, client, "password"), with_refresh=True)

    def client_credentials_grant(self, client: Client) -> dict[str, Any]:
        base = {"sub": client.id, "client_id": client.id, "cid": client.id, "azp": client.id,
                "scope": list(client.authorities) or ["uaa.none"], "grant_type": "client_credentials",
                "aud": sorted({s.split(".")[0] for s in client.authorities} | {client.id})}
        return self._token_response(base, with_refresh=False)

    def refresh_grant(self, client: Client, refresh_token: str) -> dict[str, Any]:
        try:
            claims = tokens.decode(refresh_token, self._key)
        except tokens.TokenError:
            raise UaaError(401, "invalid_token", "Invalid refresh token")
        if not str(claims.get("jti", "")).endswith("-r") or claims.get("exp", 0) < time.time():
            raise UaaError(401, "invalid_token", "Invalid refresh token (expired or not a refresh token)")
        if claims.get("client_id") != client.id:
            raise UaaError(401, "invalid_token", "Wrong client for this refresh token")
        user = self.users().get(str(claims.get("user_name")))
        if user is None:
            raise UaaError(401, "invalid_token", "User no longer exists")
        return self._token_response(self._user_claims(user, client, "refresh_token"), with_refresh=True,
                                    refresh_token=refresh_token)

    def verify(self, access_token: str) -> dict[str, Any] | None:
        """Claims of a valid, unexpired access token; None otherwise (CC answers 1000)."""
        try:
            claims = tokens.decode(access_token, self._key)
        except tokens.TokenError:
            return None
        jti = str(claims.get("jti", ""))
        if jti.endswith("-r") or float(claims.get("exp", 0)) < time.time():
            return None
        with self._lock:
            if jti in self._revoked:
                return None
        return claims

    def expire_tokens(self, who: str | None = None) -> int:
        """Force expiry of every access token issued so far (to `who` only, if given)."""
        now = time.time()
        with self._lock:
            for jti, (owner, exp) in list(self._issued.items()):
                if exp < now:
                    del self._issued[jti]
                elif who is None or owner == who:
                    self._revoked[jti] = exp
                    del self._issued[jti]
            self._revoked = {j: e for j, e in self._revoked.items() if e >= now}
            return len(self._revoked)

    # ---------------------------------------------------------------- one-time codes

    def issue_code(self, access_token: str, client_id: str = "ssh-proxy") -> str:
        claims = self.verify(access_token)
        if claims is None or not claims.get("user_name"):
            raise PermissionError("a valid user token is required for an authorization code")
        if self.client(client_id) is None:
            raise LookupError(f"unknown client {client_id}")
        code = secrets.token_urlsafe(8)
        with self._lock:
            now = time.monotonic()
            self._codes = {c: v for c, v in self._codes.items() if v.expires > now}
            self._codes[code] = _Code(str(claims["user_name"]), client_id, now + CODE_TTL)
        return code

    def code_grant(self, client: Client, code: str) -> dict[str, Any]:
        """Token response for a one-time code; the code is spent even when this fails."""
        with self._lock:
            entry = self._codes.pop(code, None)
        if entry is None or entry.expires < time.monotonic() or entry.client_id != client.id:
            raise UaaError(400, "invalid_grant", "Invalid authorization code")
        user = self.users().get(entry.user)
        if user is None:
            raise UaaError(400, "invalid_grant", "User no longer exists")
        return self._token_response(self._user_claims(user, client, "authorization_code"),
                                    with_refresh=False)

    def exchange_code(self, code: str, client_id: str, client_secret: str) -> dict[str, Any] | None:
        """Claims of a fresh access token for the code's user (plus its text under
        "access_token"), or None. A code works once, even when the exchange fails."""
        try:
            client = self.authenticate_client(client_id, client_secret)
        except UaaError:
            with self._lock:
                self._codes.pop(code, None)
            return None
        try:
            body = self.code_grant(client, code)
        except UaaError:
            return None
        claims = tokens.decode(body["access_token"], self._key)
        return {**claims, "access_token": body["access_token"]}

    def close(self) -> None:
        with self._lock:
            self._codes.clear()
