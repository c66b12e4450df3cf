"""Every secret a run knows, and where any of them turns up: the grep behind the promise that
artifacts hold no credential (issue 12 point 1).

A run knows: the config's credentials (director password or client secret, CF admin
password), every secret of the generated secrets file (role passwords, UAA client secrets,
the JWT signing key, the ssh proxy's host key, the BBS/consul/etcd private keys, HAProxy's
key), and the body of every private key among them, line by line (a key can leak in part).
Each is looked for as written and as JSON escapes it. A leak is reported by file and by the
secret's *name*, never its value.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from helpers.redaction import worth_hiding
from manifests.secrets import NOT_SECRET


def known_secrets(config: Path, state_dir: Path) -> dict[str, str]:
    """name -> value: the config's credentials and every run's generated secrets under `state_dir`."""
    data = yaml.safe_load(config.read_text())
    found: dict[str, str] = {}
    for section, key in (("bosh", "password"), ("bosh", "client_secret"), ("cf", "admin_password")):
        value = (data.get(section) or {}).get(key)
        if worth_hiding(value):  # well-known defaults (admin) are not secrets (helpers/redaction.py)
            found[f"config {section}.{key}"] = value
    for secrets_file in sorted(state_dir.glob("runs/*/manifests/secrets.yml")):
        values = yaml.safe_load(secrets_file.read_text()) or {}
        for key, value in values.items():
            if key in NOT_SECRET or not isinstance(value, str) or not value:
                continue
            found[f"secrets.yml {key}"] = value
            for i, line in enumerate(_key_body(value), 1):
                found[f"secrets.yml {key} (line {i} of its private key)"] = line
    return found


def _key_body(pem: str) -> list[str]:
    if "PRIVATE KEY-----" not in pem:
        return []
    body = pem.split("PRIVATE KEY-----", 1)[1].split("-----END", 1)[0]
    return [line.strip() for line in body.splitlines() if len(line.strip()) >= 32]


def leaks(root: Path, secrets: dict[str, str]) -> list[str]:
    """`<file>: <secret name>` for every secret found in any file under `root`."""
    out = []
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        text = path.read_bytes().decode("utf-8", errors="replace")
        for name, value in secrets.items():
            if value in text or json.dumps(value)[1:-1] in text:
                out.append(f"{path.relative_to(root)}: {name}")
    return out
