"""UAA/login HTTP layer (wire-contracts §3): a thin werkzeug app over the `Uaa` model."""

from __future__ import annotations

import base64
import json
import urllib.parse
from typing import TYPE_CHECKING, Any

from werkzeug.exceptions import HTTPException, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from simulator.cloudcontroller.uaa import UaaError

if TYPE_CHECKING:
    from simulator.cloudcontroller.uaa import Client, Uaa


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    resp = Response(json.dumps(body), status=status, content_type="application/json;charset=UTF-8",
                    headers=headers)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def _basic_credentials(request: Request) -> tuple[str, str] | None:
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, _, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        raise UaaError(401, "unauthorized", "Bad credentials")
    return urllib.parse.unquote(user), urllib.parse.unquote(password)


class UaaApp:
    """Serves both `login.<domain>` and `uaa.<domain>` (the CLI posts tokens to either)."""

    def __init__(self, uaa: Uaa) -> None:
        self.uaa = uaa
        self.url_map = Map([
            Rule("/login", endpoint="login", methods=["GET"]),
            Rule("/info", endpoint="login", methods=["GET"]),
            Rule("/oauth/token", endpoint="token", methods=["POST"]),
            Rule("/oauth/authorize", endpoint="authorize", methods=["GET"]),
            Rule("/check_token", endpoint="check_token", methods=["POST"]),
        ])

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        try:
            endpoint, args = self.url_map.bind_to_environ(environ).match()
            response = getattr(self, f"on_{endpoint}")(request, **args)
        except UaaError as exc:
            response = json_response({"error": exc.error, "error_description": exc.description},
                                     exc.status)
        except NotFound:
            response = json_response({"error": "not_found", "error_description": "Not found"}, 404)
        except HTTPException as exc:
            response = json_response({"error": "invalid_request", "error_description": exc.name},
                                     exc.code or 400)
        return response(environ, start_response)

    # ------------------------------------------------------------------ handlers

    def on_login(self, request: Request) -> Response:
        domain = self.uaa.system_domain()
        return json_response({
            "app": {"version": "2.7.1"},
            "links": {"uaa": f"https://uaa.{domain}", "login": f"https://login.{domain}",
                      "passwd": "/forgot_password", "register": "/create_account"},
            "prompts": {"username": ["text", "Email"], "password": ["password", "Password"]},
            "zone_name": "uaa", "entityID": f"login.{domain}", "commit_id": "simulator",
            "timestamp": "2015-10-01T00:00:00+0000"})

    def _client(self, request: Request) -> Client:
        basic = _basic_credentials(request)
        if basic is not None:
            return self.uaa.authenticate_client(*basic)
        client_id = request.form.get("client_id")
        if not client_id:
            raise UaaError(401, "unauthorized", "An Authentication object was not found in the "
                           "SecurityContext")
        return self.uaa.authenticate_client(client_id, request.form.get("client_secret", ""))

    def on_token(self, request: Request) -> Response:
        client = self._client(request)
        form = request.form
        grant = form.get("grant_type", "")
        if grant == "password":
            body = self.uaa.password_grant(client, form.get("username", ""), form.get("password", ""))
        elif grant == "client_credentials":
            if client.id == "cf":
                raise UaaError(401, "invalid_client", "Unauthorized grant type: client_credentials")
            body = self.uaa.client_credentials_grant(client)
        elif grant == "refresh_token":
            body = self.uaa.refresh_grant(client, form.get("refresh_token", ""))
        elif grant == "authorization_code":
            body = self.uaa.code_grant(client, form.get("code", ""))
        elif not grant:
            raise UaaError(400, "invalid_request", "Missing grant type")
        else:
            raise UaaError(400, "unsupported_grant_type", f"Unsupported grant type: {grant}")
        return json_response(body)

    def on_authorize(self, request: Request) -> Response:
        if request.args.get("response_type") != "code":
            raise UaaError(400, "unsupported_response_type", "Only response_type=code is supported")
        client_id = request.args.get("client_id", "")
        client = self.uaa.client(client_id)
        if client is None:
            raise UaaError(400, "invalid_client", f"No client with requested id: {client_id}")
        token = bearer_token(request)
        if token is None or self.uaa.verify(token) is None:
            raise UaaError(401, "invalid_token", "A valid bearer token is required")
        try:
            code = self.uaa.issue_code(token, client_id)
        except PermissionError as exc:
            raise UaaError(401, "invalid_token", str(exc))
        target = client.redirect_uri or f"https://uaa.{self.uaa.system_domain()}/login"
        sep = "&" if "?" in target else "?"
        return Response("", status=302, headers={"Location": f"{target}{sep}code={code}"})

    def on_check_token(self, request: Request) -> Response:
        self._client(request)
        claims = self.uaa.verify(request.form.get("token", ""))
        if claims is None:
            raise UaaError(400, "invalid_token", "The token is invalid or expired")
        return json_response(claims)
