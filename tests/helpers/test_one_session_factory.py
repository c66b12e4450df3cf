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
# (file, enclosing function or "*" for the whole file) -> why it may
ALLOWED = {
    ("helpers/net.py", "*"): "the factory itself",
    ("helpers/config.py", "ca"): "ssl.create_default_context(cadata=...) only checks that a CA is valid PEM",
    ("ci/bosh_lite.py", "detect_ingress_cidr"): "asks a public what-is-my-IP service, no endpoint of the config",
}
FORBIDDEN = {
    ("requests", "get"), ("requests", "post"), ("requests", "put"), ("requests", "patch"), ("requests", "delete"),
    ("requests", "head"), ("requests", "request"), ("requests", "Session"), ("urllib3", "PoolManager"),
    ("ssl", "create_default_context"), ("ssl", "SSLContext"), ("request", "urlopen"),
    ("http.client", "HTTPSConnection"), ("client", "HTTPSConnection"),
}


def _calls(tree: ast.AST) -> list[tuple[int, str, str, str]]:
    """(line, owner, attribute, enclosing function) of every forbidden call."""
    found = []

    def visit(node: ast.AST, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            owner = node.func.value
            name = owner.id if isinstance(owner, ast.Name) else ast.unparse(owner)
            if (name, node.func.attr) in FORBIDDEN or node.func.attr == "wrap_socket":
                found.append((node.lineno, name, node.func.attr, function))
        for child in ast.iter_child_nodes(node):
            visit(child, function)

    visit(tree, "<module>")
    return found


def test_no_client_builds_its_own_session_or_tls_context():
    offenders = []
    for entry in CLIENT_CODE:
        base = ROOT / entry
        for path in [base] if base.is_file() else sorted(base.rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            for line, owner, attr, function in _calls(ast.parse(path.read_text(), rel)):
                if (rel, "*") not in ALLOWED and (rel, function) not in ALLOWED:
                    offenders.append(f"{rel}:{line} ({function}): {owner}.{attr}(...)")
    assert offenders == [], "HTTP/TLS outside helpers.net.http_session:\n" + "\n".join(offenders)


def test_the_audit_sees_a_bypass():
    bypass = ("import requests, ssl\nrequests.get('https://x')\n"
              "def ca():\n    return ssl.create_default_context()\n")
    assert [(n, a, f) for _line, n, a, f in _calls(ast.parse(bypass))] == [
        ("requests", "get", "<module>"), ("ssl", "create_default_context", "ca")]
