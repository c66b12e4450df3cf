"""Read the target director's UUID from its `/info` (for `--director-url`).

Goes through `helpers.bosh.Director`, so the resolve map, CA and timeouts behave exactly as
in the suite; `/info` needs no credentials, but they are accepted for symmetry with the
suite config and never printed.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


class DirectorLookupError(Exception):
    """The director could not be asked for its UUID (message is safe to print)."""


# helpers.net names the suite config's keys in a TLS failure; on this command line they are flags
_FLAGS = {"bosh.tls_allow_sha1: true": "--tls-allow-sha1", "bosh.skip_ssl_validation: true": "--skip-ssl-validation",
          "bosh.ca_cert": "--ca-cert"}


def _as_flags(text: str) -> str:
    for key, flag in _FLAGS.items():
        text = text.replace(key, flag)
    return text


def _ca_text(ca_cert: str | None) -> str | None:
    if not ca_cert:
        return None
    if "-----BEGIN" in ca_cert:
        return ca_cert
    try:
        return Path(ca_cert).read_text()
    except OSError as exc:
        raise DirectorLookupError(f"cannot read CA certificate {ca_cert}: {exc.strerror or exc}")


def director_uuid(
    url: str,
    *,
    username: str | None = None,
    password: str | None = None,
    ca_cert: str | None = None,
    skip_ssl_validation: bool = False,
    tls_allow_sha1: bool = False,
    resolve: Mapping[str, str] | None = None,
    timeout: float = 10.0,
) -> str:
    from helpers.bosh import BoshError, Director
    from helpers.config import BoshConfig
    from helpers.net import HelperError, Resolver, parse_resolve_map

    _, problems = parse_resolve_map(resolve or {})
    if problems:
        raise DirectorLookupError("; ".join(problems))
    config = BoshConfig(
        url=url,
        ca_cert=_ca_text(ca_cert),
        skip_ssl_validation=skip_ssl_validation,
        tls_allow_sha1=tls_allow_sha1,
        username=username or os.environ.get("BOSH_CLIENT") or os.environ.get("BOSH_USER"),
        password=password or os.environ.get("BOSH_CLIENT_SECRET") or os.environ.get("BOSH_PASSWORD"),
    )
    try:
        director = Director(config, Resolver(dict(resolve or {})), timeout=lambda _name: timeout)
        uuid = director.uuid()
    except (BoshError, HelperError, KeyError, ValueError) as exc:
        text = str(exc) if not isinstance(exc, KeyError) else "its /info has no uuid"
        raise DirectorLookupError(f"cannot read the director UUID from {url}: {_as_flags(text)}")
    except Exception as exc:  # requests/ssl errors not wrapped by the client
        raise DirectorLookupError(f"cannot read the director UUID from {url}: {exc.__class__.__name__}: {exc}")
    if not uuid:
        raise DirectorLookupError(f"the director at {url} reports no UUID")
    return uuid
