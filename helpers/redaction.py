"""Redaction: what the suite hides from every line, report and artifact it writes, and why.

Clients register each credential they hold as soon as they get it (config passwords and
client secrets, UAA tokens, ssh codes, the generated secrets of the manifests); every error,
log line, terminal line and artifact passes through `REDACTOR.redact()`. Pattern rules also
catch what was never registered: bearer/basic credentials, `access_token=`/`"password": ...`
fields, and PEM private keys (a whole block, or a block cut short by a truncated message).

What is *not* hidden, so that messages stay readable (issue 12: with BOSH-Lite's default
`admin`/`admin`, `cf.admin_pasword: unknown key` became `cf.[REDACTED]_pasword`):

* well-known defaults (`WELL_KNOWN`): BOSH-Lite's director and CF `admin`/`admin`, the
  stemcell's `c1oudc0w`, placeholder words. Everybody knows them; hiding them protects
  nothing and shreds every sentence that contains the word;
* values shorter than `MIN_LENGTH` characters;
* a short value (under `ANYWHERE_LENGTH` characters) inside a longer identifier: it is
  replaced only where it stands as a token of its own, never inside a key name such as
  `admin_password` or a word of the suite's own. A JSON escape (`\\n` before it) still
  counts as a boundary, so a secret at the start of an escaped line is caught. Longer values
  (every generated password is 32 hex characters, keys are longer still) are replaced
  wherever they appear: they cannot be part of a word by accident.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Iterable
from typing import Any

REDACTED = "[REDACTED]"
MIN_LENGTH = 3
ANYWHERE_LENGTH = 12
WELL_KNOWN = frozenset({"admin", "password", "secret", "changeme", "c1oudc0w", "none", "null"})

_WORD_CHAR = re.compile(r"[A-Za-z0-9_]")
_BEFORE = r"(?:(?<![A-Za-z0-9_])|(?<=\\[nrt]))"
_AFTER = r"(?![A-Za-z0-9_])"

# Header / token / key shapes that are secrets whatever their value (covers what was never registered).
PATTERNS: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"(-----BEGIN [A-Z ]*PRIVATE KEY-----)(?:.*?(-----END [A-Z ]*PRIVATE KEY-----)|.*\Z)", re.S),
     r"\1" + REDACTED + r"\2"),
    (re.compile(r"(?i)\b(authorization\s*[:=]\s*['\"]?)(bearer|basic)\s+[^\s'\",}]+"), r"\1\2 " + REDACTED),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9\-_=+/.~]{8,}"), r"\1 " + REDACTED),
    # JSON fields ("access_token": "...") and form/query fields (password=...)
    (
        re.compile(r"(?i)([\"'](?:access_token|refresh_token|id_token|client_secret|password|secret_access_key)"
                   r"[\"']\s*:\s*[\"']?)([^\"',}]+)"),
        r"\1" + REDACTED,
    ),
    (
        re.compile(r"(?i)(\b(?:access_token|refresh_token|client_secret|password|secret_access_key)=)([^\s&'\"]+)"),
        r"\1" + REDACTED,
    ),
    (re.compile(r"(?i)([?&](?:code|access_token|password)=)[^&\s'\"]+"), r"\1" + REDACTED),
]


def worth_hiding(value: Any) -> bool:
    """A registered value is hidden unless it is too short or a well-known default."""
    return isinstance(value, str) and len(value) >= MIN_LENGTH and value.lower() not in WELL_KNOWN


def _matcher(secret: str) -> re.Pattern[str]:
    core = re.escape(secret)
    if len(secret) >= ANYWHERE_LENGTH:
        return re.compile(core)
    before = _BEFORE if _WORD_CHAR.match(secret[0]) else ""
    after = _AFTER if _WORD_CHAR.match(secret[-1]) else ""
    return re.compile(before + core + after)


class Redactor:
    """Process-wide set of registered secrets, replaced in any text we emit (module docstring)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: dict[str, re.Pattern[str]] = {}

    def register(self, *secrets: str | None) -> None:
        with self._lock:
            for s in secrets:
                if worth_hiding(s) and s not in self._secrets:
                    self._secrets[str(s)] = _matcher(str(s))

    def secrets(self) -> list[str]:
        with self._lock:
            return sorted(self._secrets, key=len, reverse=True)

    def redact(self, text: Any, extra: Iterable[str | None] = ()) -> str:
        out = str(text)
        with self._lock:
            known = dict(self._secrets)
        for s in extra:
            if worth_hiding(s) and s not in known:
                known[str(s)] = _matcher(str(s))
        for secret in sorted(known, key=len, reverse=True):  # longest first: a secret inside another
            if secret in out:
                out = known[secret].sub(REDACTED, out)
        for pat, repl in PATTERNS:
            out = pat.sub(repl, out)
        return out


REDACTOR = Redactor()


def redact(text: Any, secrets: Iterable[str | None] = ()) -> str:
    """Redact `text` with the given secrets plus every secret registered process-wide."""
    return REDACTOR.redact(text, secrets)


SECRET_WORDS = ("password", "passphrase", "secret", "token", "private", "ssl_pem", "credential")


def secret_key(key: Any) -> bool:
    """A key whose value is a credential whatever it is (`nats.password`, `uaa.jwt.signing_key`,
    `clients.cc.secret`, `ha_proxy.ssl_pem`, `consul.encrypt_keys`)."""
    lower = str(key).lower()
    return any(word in lower for word in SECRET_WORDS) or lower.endswith(("key", "keys"))


def redact_data(obj: Any, redactor: Redactor | None = None) -> Any:
    """A copy of parsed YAML/JSON with every credential replaced: the whole value of a
    secret-named key, and every registered secret or private key inside any other string.
    Keys are never changed (they are what a reader looks for)."""
    redactor = REDACTOR if redactor is None else redactor

    def walk(value: Any, hide: bool) -> Any:
        if isinstance(value, dict):
            return {k: walk(v, hide or secret_key(k)) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, hide) for v in value]
        if hide and value is not None and not isinstance(value, bool):
            return REDACTED
        return redactor.redact(value) if isinstance(value, str) else value

    return walk(obj, False)


class RedactingFilter(logging.Filter):
    """Logging filter that rewrites each record's message through the process Redactor."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            msg = record.getMessage()
        except Exception:  # a broken format string must not kill logging
            msg = str(record.msg)
        record.msg = REDACTOR.redact(msg)
        record.args = None
        return True


def redacting_logger(name: str) -> logging.Logger:
    """A module logger whose records are redacted before any handler sees them."""
    logger = logging.getLogger(name)
    if not any(isinstance(f, RedactingFilter) for f in logger.filters):
        logger.addFilter(RedactingFilter())
    return logger
