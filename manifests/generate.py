"""Piecewise CF + Diego manifests: one CF deployment and four Diego deployments.

`generate()` merges our own spiff templates (manifests/templates/) with generated stubs
(version pins, secrets, target networks) and the caller's stubs, CF first; each Diego piece
is then generated from the CF manifest's values through a config-from-cf step, as
diego-release's own scripts do, so Diego always talks to the CF it was generated from.

Stub precedence: the caller's stubs win over everything. They are placed both left of the
generated stubs (spiff takes a whole list or map from the leftmost stub that has it) and
right of them (a scalar leaf comes from the rightmost file), so `networks`, static IPs,
instance counts, properties and helper values such as `target.system_domain` can all be
overridden.
"""

from __future__ import annotations

import copy
import functools
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from manifests import output
from manifests import secrets as secrets_mod
from manifests.target import (
    DIEGO_PIECES,
    Target,
    TargetError,
    cf_networks,
    diego_networks,
    load_target,
)
from manifests.versions import VersionSet, VersionSetError, load_version_set

TEMPLATES = Path(__file__).resolve().parent / "templates"

#: piece -> deployment name suffix (appended to the prefix, `cf-warden` by default)
PIECES: dict[str, str] = {
    "cf": "",
    "database": "-diego-database",
    "brain-and-pals": "-diego-brain-and-pals",
    "cell1": "-diego-cell1",
    "cell2": "-diego-cell2",
}
#: the Diego jobs each piece runs (one instance each); every other Diego job has 0
PIECE_JOBS: dict[str, tuple[str, ...]] = {
    "database": ("database_z1",),
    "brain-and-pals": ("brain_z1", "cc_bridge_z1", "route_emitter_z1", "access_z1"),
    "cell1": ("cell_z1",),
    "cell2": ("cell_z2",),
}
BOSH_KEYS = ("name", "director_uuid", "releases", "compilation", "update", "networks",
             "resource_pools", "disk_pools", "jobs", "properties")


def write_domain_stub(system_domain: str, directory: Path | str) -> Path:
    """A stub that points every manifest at `system_domain` (CF's system and apps domain, and,
    through config-from-cf, every Diego piece): how a suite config's CF domain reaches the
    manifests it deploys."""
    path = Path(directory) / "domain-stub.yml"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"target:\n  system_domain: {system_domain}\n")
    return path


def deployment_names(prefix: str = "cf-warden") -> dict[str, str]:
    return {piece: prefix + suffix for piece, suffix in PIECES.items()}


class GenerationError(Exception):
    """Everything that stops generation, all at once; `str()` lists one problem a line."""

    def __init__(self, problems: Sequence[str]):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def _spiff():
    import manifests.spiff as spiff

    return spiff


# --------------------------------------------------------------------------- inputs


def _load_stub(spiff: Any, path: Path) -> tuple[str, Any]:
    return (str(path), spiff.load_yaml_file(str(path)))


def _stub_error(path: Path, exc: BaseException) -> str:
    detail = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
    return f"cannot read stub {path}: {detail}"


# --------------------------------------------------------------------------- merging


def load_user_stubs(spiff: Any, stubs: Iterable[str | Path],
                    piece_stubs: Mapping[str, Iterable[str | Path]] | None,
                    problems: list[str]) -> tuple[list[tuple[str, Any]], dict[str, list[tuple[str, Any]]]]:
    """The user's stubs for all five manifests and per piece, parsed; every unreadable stub and
    unknown piece name is added to `problems` (one message lists them all)."""
    user: list[tuple[str, Any]] = []
    per_piece: dict[str, list[tuple[str, Any]]] = {piece: [] for piece in PIECES}
    for piece, paths in [("*", stubs), *(piece_stubs or {}).items()]:
        if piece != "*" and piece not in PIECES:
            problems.append(f"unknown piece {piece!r} for a piece stub (pieces: {', '.join(PIECES)})")
            continue
        for path in [Path(p) for p in paths]:
            try:
                (user if piece == "*" else per_piece[piece]).append(_load_stub(spiff, path))
            except (spiff.SpiffError, OSError) as exc:
                problems.append(_stub_error(path, exc))
    return user, per_piece


def _declare(template: dict[str, Any], secrets: Mapping[str, Any]) -> dict[str, Any]:
    """Declare every secret as a `(( merge ))` leaf and let the caller's stubs add
    properties (`<<: (( merge ))` in every map under `properties`)."""
    doc = copy.deepcopy(template)
    doc["secrets"] = {key: "(( merge ))" for key in secrets}

    def splice(node: Any) -> None:
        if isinstance(node, dict):
            for value in node.values():
                splice(value)
            node.setdefault("<<", "(( merge ))")

    if isinstance(doc.get("properties"), dict):
        splice(doc["properties"])
    return doc


def _with_user_stubs(user: Sequence[tuple[str, Any]], internal: Sequence[tuple[str, Any]]) -> list[tuple[str, Any]]:
    return [*reversed(user), *internal, *user]


@functools.cache
def _template_cached(name: str) -> Any:
    return _spiff().load_yaml_file(str(TEMPLATES / name))


def _template(name: str) -> Any:
    """One of our templates, read with spiff's YAML rules (parsed once, copied per use)."""
    return copy.deepcopy(_template_cached(name))


def _bosh_only(doc: Mapping[str, Any]) -> dict[str, Any]:
    return {key: doc[key] for key in BOSH_KEYS if key in doc}


def _unresolved(spiff: Any, what: str, exc: BaseException) -> str:
    if isinstance(exc, spiff.UnresolvedNodesError):
        lines = exc.lines() or str(exc).splitlines()
        return f"{what}: unresolved nodes:\n" + "\n".join(f"  {line.strip()}" for line in lines)
    return f"{what}: {exc}"


def releases_for(versions: VersionSet, names: Iterable[str]) -> list[dict[str, str]]:
    return [{"name": n, "version": versions.releases[n]} for n in names]


def diego_release_names(versions: VersionSet) -> list[str]:
    names = ["diego", "cf", "garden-linux"]
    return [*names, "etcd"] if versions.uses_etcd_release else names


def build_cf(spiff: Any, versions: VersionSet, target: Target, director_uuid: str, prefix: str,
             secrets: Mapping[str, Any], user: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    template = _declare(_template("cf.yml"), secrets)
    params = {
        "params": {"name": prefix, "director_uuid": director_uuid,
                   "releases": releases_for(versions, ["cf"]), "stemcell": dict(versions.stemcell)},
        "target": dict(target.values),
        "secrets": dict(secrets),
        "networks": cf_networks(target),
    }
    era = _template(f"cf-era-{versions.cf_era}.yml")
    template["jobs"] = list(template["jobs"]) + list(era.pop("era_jobs", None) or [])
    docs = [("cf.yml", template),
            *_with_user_stubs(user, [("generated cf parameters", params), (f"cf-era-{versions.cf_era}.yml", era)])]
    return _bosh_only(spiff.merge(docs))


def config_from_cf(spiff: Any, cf_manifest: Mapping[str, Any]) -> dict[str, Any]:
    return spiff.merge([
        ("config-from-cf.yml", _template("config-from-cf.yml")),
        ("config-from-cf-internal.yml", _template("config-from-cf-internal.yml")),
        ("cf.yml", cf_manifest),
    ])


def build_diego(spiff: Any, piece: str, versions: VersionSet, target: Target, config: Mapping[str, Any],
                secrets: Mapping[str, Any], user: Sequence[tuple[str, Any]]) -> dict[str, Any]:
    template = _declare(_template("diego.yml"), secrets)
    params = {
        "params": {"releases": releases_for(versions, diego_release_names(versions)),
                   "stemcell": dict(versions.stemcell)},
        "piece": {"name": piece, "instances": {job: 1 for job in PIECE_JOBS[piece]}},
        "target": dict(target.values),
        "secrets": dict(secrets),
        "networks": diego_networks(target, piece),
    }
    era_name = "diego-era-etcd.yml" if versions.uses_etcd_release else "diego-era-0.1434.yml"
    docs = [("diego.yml", template),
            *_with_user_stubs(user, [(f"generated {piece} parameters", params), (era_name, _template(era_name)),
                                     ("config-from-cf", dict(config))])]
    return _bosh_only(spiff.merge(docs))


def check_consistency(manifests: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """Diego must serve the host key whose fingerprint CF publishes, and use CF's ssh-proxy secret."""
    from manifests.secrets import ssh_md5_fingerprint

    problems = []
    cf_props = manifests["cf"].get("properties") or {}
    fingerprint = (cf_props.get("app_ssh") or {}).get("host_key_fingerprint")
    cf_secret = ((cf_props.get("uaa") or {}).get("clients") or {}).get("ssh-proxy", {}).get("secret")
    for piece in DIEGO_PIECES:
        ssh = ((manifests[piece].get("properties") or {}).get("diego") or {}).get("ssh_proxy") or {}
        try:
            actual = ssh_md5_fingerprint(ssh.get("host_key") or "")
        except (ValueError, TypeError):
            problems.append(f"{piece}: diego.ssh_proxy.host_key is not a PEM private key")
            continue
        if actual != fingerprint:
            problems.append(f"{piece}: diego.ssh_proxy.host_key does not match CF's app_ssh.host_key_fingerprint")
        if ssh.get("uaa_secret") != cf_secret:
            problems.append(f"{piece}: diego.ssh_proxy.uaa_secret differs from CF's uaa.clients.ssh-proxy.secret")
    return problems


def dump(manifest: Mapping[str, Any]) -> str:
    return _spiff().dump_yaml(manifest)


PACKAGE_DIR = Path(__file__).resolve().parent


def check_out_dir(out: Path) -> list[str]:
    """Refuse to replace a directory that holds anything but our manifests, and to write into
    the package's own directory (its templates, stubs and version sets live there: generated
    manifests beside them would be taken for the project's files)."""
    out = Path(out)
    resolved = out.expanduser().resolve()
    if resolved == PACKAGE_DIR or PACKAGE_DIR in resolved.parents:
        return [f"--out {out} is inside the suite's own manifests/ package ({PACKAGE_DIR}); "
                "give a directory of your own, e.g. --out ~/upgrade-manifests/v0"]
    if not out.exists():
        return []
    if not out.is_dir():
        return [f"--out {out} exists and is not a directory"]
    foreign = sorted(p.name for p in out.iterdir() if p.name not in {f"{piece}.yml" for piece in PIECES})
    if foreign:
        return [f"--out {out} holds files that are not generated manifests ({', '.join(foreign[:5])}); "
                "refusing to replace it"]
    return []


# --------------------------------------------------------------------------- entry point


def generate(
    versions: str | Path | VersionSet,
    target: str | Path = "bosh-lite",
    director_uuid: str | None = None,
    out: Path | str | None = None,
    stubs: Iterable[str | Path] = (),
    prefix: str = "cf-warden",
    *,
    secrets_file: str | Path | None = None,
    cf_admin_user: str | None = None,
    cf_admin_password: str | None = None,
    piece_stubs: Mapping[str, Iterable[str | Path]] | None = None,
) -> dict[str, Path]:
    """Write cf.yml, database.yml, brain-and-pals.yml, cell1.yml, cell2.yml into `out`.

    Returns piece -> path. Raises GenerationError listing every problem; on error nothing
    is written (and an existing `out` is left as it was).
    """
    manifests = build_all(versions, target, director_uuid, stubs, prefix, secrets_file=secrets_file,
                          cf_admin_user=cf_admin_user, cf_admin_password=cf_admin_password,
                          piece_stubs=piece_stubs, out=out)
    if out is None:
        raise GenerationError(["no output directory given"])
    written = output.write_atomically(Path(out), {f"{piece}.yml": dump(m) for piece, m in manifests.items()})
    return {piece: written[f"{piece}.yml"] for piece in PIECES}


def build_all(
    versions: str | Path | VersionSet,
    target: str | Path = "bosh-lite",
    director_uuid: str | None = None,
    stubs: Iterable[str | Path] = (),
    prefix: str = "cf-warden",
    *,
    secrets_file: str | Path | None = None,
    cf_admin_user: str | None = None,
    cf_admin_password: str | None = None,
    piece_stubs: Mapping[str, Iterable[str | Path]] | None = None,
    out: Path | str | None = None,
) -> dict[str, dict[str, Any]]:
    """The five manifests as data (piece -> manifest), without writing anything."""
    spiff = _spiff()
    problems: list[str] = []
    version_set: VersionSet | None = None
    if isinstance(versions, VersionSet):
        version_set = versions
    else:
        try:
            version_set = load_version_set(versions)
        except VersionSetError as exc:
            problems.extend(exc.problems)
    target_desc: Target | None = None
    try:
        target_desc = load_target(target)
    except TargetError as exc:
        problems.extend(exc.problems)
    if not director_uuid:
        problems.append("no director UUID: give --director-uuid or --director-url")
    if not prefix:
        problems.append("the deployment prefix must not be empty")
    user, per_piece = load_user_stubs(spiff, stubs, piece_stubs, problems)
    if out is not None:
        problems.extend(check_out_dir(Path(out)))
    secrets: dict[str, Any] = {}
    secrets_path = Path(secrets_file) if secrets_file else None
    if not problems:
        assert target_desc is not None
        try:  # the HAProxy certificate for the target's domain: right unless a stub moves the domain
            secrets = secrets_mod.load_or_create(secrets_path, str(target_desc.values.get("system_domain") or ""))
        except secrets_mod.SecretsError as exc:
            problems.append(str(exc))
    if problems:
        raise GenerationError(problems)
    assert version_set is not None and target_desc is not None and director_uuid
    if cf_admin_user:
        secrets["admin_user"] = cf_admin_user
    if cf_admin_password:
        secrets["admin_password"] = cf_admin_password

    manifests: dict[str, dict[str, Any]] = {}
    try:
        manifests["cf"] = build_cf(spiff, version_set, target_desc, director_uuid, prefix, secrets,
                                   user + per_piece["cf"])
        domain = str((manifests["cf"].get("properties") or {}).get("system_domain") or "")
        if secrets_mod.fit_haproxy_certificate(secrets, domain, secrets_path):  # a stub moved the domain
            manifests["cf"] = build_cf(spiff, version_set, target_desc, director_uuid, prefix, secrets,
                                       user + per_piece["cf"])
        config = config_from_cf(spiff, manifests["cf"])
    except spiff.SpiffError as exc:
        raise GenerationError([_unresolved(spiff, "cf.yml", exc)])
    for piece in DIEGO_PIECES:
        try:
            manifests[piece] = build_diego(spiff, piece, version_set, target_desc, config, secrets,
                                           user + per_piece[piece])
        except spiff.SpiffError as exc:
            problems.append(_unresolved(spiff, f"{piece}.yml", exc))
    if problems:
        raise GenerationError(problems)
    problems = check_consistency(manifests)
    if problems:
        raise GenerationError(problems)
    return manifests
