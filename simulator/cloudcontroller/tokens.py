"""JSON Web Tokens as UAA issues them, signed HS256 with a key made per simulator run.

Real UAA signs with RS256; clients never verify the signature (only CC, the ssh-proxy and
the traffic controller do, and here they all ask `Uaa.verify`), so the standard library's
hmac is enough and keeps the simulator free of a JWT dependency.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any


class TokenError(ValueError):
    """The text is not a token this UAA signed (bad shape, bad signature)."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def encode(claims: dict[str, Any], key: bytes) -> str:
    header = {"alg": "HS256", "typ": "JWT", "kid": "sim-key-1"}
    signing_input = ".".join(_b64(json.dumps(part, separators=(",", ":")).encode())
                             for part in (header, claims))
    signature = hmac.new(key, signing_input.encode("ascii"), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def decode(token: str, key: bytes) -> dict[str, Any]:
    """Claims of `token` once its signature checks out (expiry is the caller's business)."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenError("malformed token")
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii", "replace")
    expected = hmac.new(key, signing_input, hashlib.sha256).digest()
    try:
        signature = _unb64(parts[2])
        claims = json.loads(_unb64(parts[1]))
    except (ValueError, UnicodeDecodeError) as exc:
        raise TokenError("malformed token") from exc
    if not hmac.compare_digest(signature, expected):
        raise TokenError("bad signature")
    if not isinstance(claims, dict):
        raise TokenError("malformed claims")
    return claims


def unverified_claims(token: str) -> dict[str, Any]:
    """Claims without checking anything: for error messages and tests only."""
    try:
        return json.loads(_unb64(token.split(".")[1]))
    except (IndexError, ValueError):
        return {}
