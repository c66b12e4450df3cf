"""Every HTTP(S) client of the project goes through helpers.net's session factory: the resolve
map, the TLS settings of its endpoint (CA, tls_allow_sha1, tls_hostname_from_cn, no silent CN
fallback) and the failure messages all live there. A client that builds its own session or TLS
context would bypass every one of them, so this test reads the code for such calls."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# the client side of the project; the simulator's servers build server contexts on purpose
CLIENT_CODE = ["helpers", "fixtures", "promotion", "ci", "manifests", "suites", "simulator/client.py"]
ALLOWED = {
    "helpers/net.py": "the factory itself",
    "helpers/config.py": "ssl.create_default_context(cadata=...) only checks that a CA is valid PEM",
}
FORBIDDEN = {
    ("requests", "get"), ("requests", "post"), ("requests", "put"), ("requests", "patch"), ("requests", "delete"),
    ("requests", "head"), ("requests", "request"), ("requests", "Session"), ("urllib3", "PoolManager"),
    ("ssl", "create_default_context"), ("ssl", "SSLContext"), ("request", "urlopen"),
    ("http.client", "HTTPSConnection"), ("client", "HTTPSConnection"),
}


def _calls(tree: ast.AST) -> list[tuple[int, str, str]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)
            if (name, node.func.attr) in FORBIDDEN or node.func.attr == "wrap_socket":
                found.append((node.lineno, name, node.func.attr))
    return found


def test_no_client_builds_its_own_session_or_tls_context():
    offenders = []
    for entry in CLIENT_CODE:
        base = ROOT / entry
        for path in [base] if base.is_file() else sorted(base.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            if rel in ALLOWED:
                continue
            for line, owner, attr in _calls(ast.parse(path.read_text(), rel)):
                offenders.append(f"{rel}:{line}: {owner}.{attr}(...)")
    assert offenders == [], "HTTP/TLS outside helpers.net.http_session:\n" + "\n".join(offenders)


def test_the_audit_sees_a_bypass():
    bypass = "import requests, ssl\nrequests.get('https://x')\nctx = ssl.create_default_context()\n"
    assert [(n, a) for _line, n, a in _calls(ast.parse(bypass))] == [("requests", "get"),
                                                                       ("ssl", "create_default_context")]
