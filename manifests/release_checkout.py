"""Release-checkout mode: run cf-release's and diego-release's own manifest templates.

This is how users generate V-prime after checking out cf-release and diego-release at later
versions, creating releases and uploading them. The merges follow the releases' scripts:

* CF (`scripts/generate-bosh-lite-dev-manifest`): the cf templates (six with
  `cf-lamb.yml` in the v220 era, five later) with `cf-infrastructure-warden.yml`, then
  `dev-security-groups.yml`, `property_overrides.yml`, the director stub, `cf-minimal-dev.yml`,
  the diego-ssh stub (cf-release's own, or diego-release's `stubs-for-cf-release/`), our
  piecewise CF stub and the caller's stubs: one merge.
* Diego, positional era (v0.1434.0: `bosh-lite-stubs/additional-jobs.yml` exists):
  config-from-cf; `diego.yml` + property overrides + INSTANCE_COUNTS + persistent disk +
  IAAS_SETTINGS + additional jobs + config; `misc-templates/bosh.yml` + director stub + that.
* Diego, flag era (from v0.1445.0: `bosh-lite-stubs/release-versions.yml` exists):
  config-from-cf; `diego.yml` + property overrides (-p) + instance counts (-n) + iaas
  settings (-i) + release versions (-v) + config; `misc-templates/bosh.yml` + that.

Our piecewise stubs supply INSTANCE_COUNTS (the piece's jobs 1, every other Diego job 0)
and IAAS_SETTINGS (upstream's BOSH-Lite settings with the piece's own networks). A last
merge per manifest, as DUSTs did, sets the deployment name, pins every listed release and
the stemcell to exact versions, turns off compilation VM reuse, and applies the caller's
stubs as leaf overrides of the finished Diego manifests.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from manifests import output
from manifests.generate import PIECE_JOBS, PIECES, GenerationError, check_out_dir, dump, load_user_stubs
from manifests.target import DIEGO_PIECES, STUBS, Target, TargetError, load_target, subnets
from manifests.versions import DEFAULT_STEMCELL, VersionSetError, load_version_set

DIEGO_GROUPS = ("access", "brain", "cc_bridge", "cell", "colocated", "database", "route_emitter")
CHECKOUT_RELEASE_NAMES = {"cf_release": "cf", "diego_release": "diego", "etcd_release": "etcd",
                          "garden_release": "garden-linux"}


@dataclass(frozen=True)
class CfCheckout:
    root: Path
    templates: list[Path]
    dev_stubs_before_director: list[Path]
    dev_stubs_after_director: list[Path]


@dataclass(frozen=True)
class DiegoCheckout:
    root: Path
    era: str  # "positional" (v0.1434.0 and earlier) or "flags" (v0.1445.0 and later)

    @property
    def mg(self) -> Path:
        return self.root / "manifest-generation"

    @property
    def lite(self) -> Path:
        return self.mg / "bosh-lite-stubs"


def inspect_cf(root: Path, diego_root: Path | None, problems: list[str]) -> CfCheckout | None:
    t = root / "templates"
    names = ["cf-deployment.yml", "cf-resource-pools.yml", "cf-jobs.yml"]
    if (t / "cf-lamb.yml").is_file():  # v220 era: loggregator jobs from the submodule's template
        names.append("cf-lamb.yml")
    names += ["cf-properties.yml", "cf-infrastructure-warden.yml"]
    missing = [n for n in names if not (t / n).is_file()]
    lite = root / "bosh-lite" / "stubs"
    before = [lite / "dev-security-groups.yml", lite / "property_overrides.yml"]
    missing += [str(p.relative_to(root)) for p in before if not p.is_file()]
    if not (t / "cf-minimal-dev.yml").is_file():
        missing.append("templates/cf-minimal-dev.yml")
    if missing:
        problems.append(f"--cf-release {root}: not a cf-release checkout (missing {', '.join(missing)})")
        return None
    after = [t / "cf-minimal-dev.yml"]
    ssh = lite / "enable-diego-ssh.yml"
    if ssh.is_file():
        after.append(ssh)
    elif diego_root is not None and (diego_root / "stubs-for-cf-release" / "enable_diego_ssh_in_cf.yml").is_file():
        after.append(diego_root / "stubs-for-cf-release" / "enable_diego_ssh_in_cf.yml")
    return CfCheckout(root, [t / n for n in names], before, after)


def inspect_diego(root: Path, problems: list[str]) -> DiegoCheckout | None:
    mg = root / "manifest-generation"
    needed = ["diego.yml", "config-from-cf.yml", "config-from-cf-internal.yml", "misc-templates/bosh.yml",
              "bosh-lite-stubs/property-overrides.yml", "bosh-lite-stubs/iaas-settings.yml"]
    missing = [n for n in needed if not (mg / n).is_file()]
    if missing:
        problems.append(f"--diego-release {root}: not a diego-release checkout (missing "
                        f"{', '.join('manifest-generation/' + m for m in missing)})")
        return None
    if (mg / "bosh-lite-stubs" / "release-versions.yml").is_file():
        return DiegoCheckout(root, "flags")
    if (mg / "bosh-lite-stubs" / "additional-jobs.yml").is_file():
        return DiegoCheckout(root, "positional")
    problems.append(f"--diego-release {root}: cannot tell its manifest-generation era (neither "
                    "bosh-lite-stubs/release-versions.yml nor bosh-lite-stubs/additional-jobs.yml)")
    return None


# --------------------------------------------------------------------------- versions


def _version_key(version: str) -> tuple:
    parts = []
    for chunk in version.replace("+", ".").replace("-", ".").split("."):
        parts.append((0, int(chunk), "") if chunk.isdigit() else (1, 0, chunk))
    return tuple(parts)


def last_created_versions(root: Path) -> dict[str, str]:
    """Release name -> version of the release the checkout created last (dev or final).

    Reads `dev_releases/<name>/` and `releases/<name>/`: the newest `<name>-<version>.yml`
    (by modification time) wins; with only `index.yml`, its highest build version."""
    found: dict[str, tuple[float, str]] = {}
    for kind in ("releases", "dev_releases"):
        base = root / kind
        if not base.is_dir():
            continue
        for release_dir in sorted(p for p in base.iterdir() if p.is_dir()):
            name = release_dir.name
            for path in release_dir.glob("*.yml"):
                if path.name == "index.yml":
                    continue
                try:
                    data = yaml.safe_load(path.read_text()) or {}
                except (OSError, yaml.YAMLError):
                    continue
                version = str(data.get("version") or path.stem.removeprefix(f"{name}-"))
                mtime = path.stat().st_mtime
                if name not in found or mtime > found[name][0]:
                    found[name] = (mtime, version)
            index = release_dir / "index.yml"
            if name not in found and index.is_file():
                try:
                    builds = (yaml.safe_load(index.read_text()) or {}).get("builds") or {}
                except (OSError, yaml.YAMLError):
                    builds = {}
                versions = [str(b["version"]) for b in builds.values() if isinstance(b, dict) and "version" in b]
                if versions:
                    found[name] = (index.stat().st_mtime, max(versions, key=_version_key))
    return {name: version for name, (_, version) in found.items()}


# --------------------------------------------------------------------------- piece stubs


def instance_counts(piece: str) -> dict[str, Any]:
    running = set(PIECE_JOBS[piece])
    return {"instance_count_overrides": [
        {"name": f"{g}_z{z}", "instances": 1 if f"{g}_z{z}" in running else 0}
        for g in DIEGO_GROUPS for z in (1, 2, 3)]}


def iaas_settings(upstream: Mapping[str, Any], target: Target, piece: str, stemcell: Mapping[str, str]) -> dict[str, Any]:
    doc = copy.deepcopy(dict(upstream))
    settings = doc.setdefault("iaas_settings", {})
    ours = target.diego_networks[piece]
    configs = [c for c in settings.get("subnet_configs") or [] if c.get("name") not in ours]
    settings["subnet_configs"] = [{"name": name, "type": "manual", "subnets": subnets(prefix, 31, 21)}
                                  for name, prefix in ours.items()] + configs
    settings["stemcell"] = {"name": (settings.get("stemcell") or {}).get("name") or stemcell["name"],
                            "version": stemcell["version"]}
    return doc


def pin_stub(manifest: Mapping[str, Any], name: str, pins: Mapping[str, str], stemcell: Mapping[str, str],
             what: str, problems: list[str]) -> dict[str, Any]:
    releases = []
    for release in manifest.get("releases") or []:
        rname = release.get("name")
        if rname not in pins:
            flag = {v: k for k, v in CHECKOUT_RELEASE_NAMES.items()}.get(rname, "").replace("_", "-")
            hint = f" or --{flag} DIR with a releases/ or dev_releases/ index" if flag else ""
            problems.append(f"{what}: no version for release {rname!r}: give --versions FILE{hint}")
            continue
        releases.append({"name": rname, "version": pins[rname]})
    return {
        "name": name,
        "releases": releases,
        "compilation": {"reuse_compilation_vms": False},
        "resource_pools": [{"name": p["name"], "stemcell": {"version": stemcell["version"]}}
                           for p in manifest.get("resource_pools") or [] if isinstance(p, dict) and "name" in p],
    }


def set_admin(cf_manifest: dict[str, Any], user: str | None, password: str | None) -> None:
    """Put the suite's CF admin credentials into `uaa.scim.users` (v220 strings
    `user|password|groups` or later maps): the entry for `user` (default `admin`), else the
    first entry in the `cloud_controller.admin` group, keeps its groups. Done on the merged
    data because spiff cannot override a list element from a stub."""
    if not user and not password:
        return
    users = (((cf_manifest.get("properties") or {}).get("uaa") or {}).get("scim") or {}).get("users")
    if not isinstance(users, list) or not users:
        raise GenerationError(["cf.yml: cannot set the CF admin credentials: no properties.uaa.scim.users"])

    def parts(entry: Any) -> tuple[str, str, str]:
        if isinstance(entry, dict):
            groups = entry.get("groups") or []
            return str(entry.get("name")), str(entry.get("password")), ",".join(groups) if isinstance(groups, list) else str(groups)
        name, _, rest = str(entry).partition("|")
        pw, _, groups = rest.partition("|")
        return name, pw, groups

    wanted = user or "admin"
    index = next((i for i, e in enumerate(users) if parts(e)[0] == wanted), None)
    if index is None:
        index = next((i for i, e in enumerate(users) if "cloud_controller.admin" in parts(e)[2].split(",")), 0)
    name, old_password, groups = parts(users[index])
    new_name, new_password = user or name, password or old_password
    if isinstance(users[index], dict):
        users[index] = {**users[index], "name": new_name, "password": new_password}
    else:
        users[index] = f"{new_name}|{new_password}|{groups}"


# --------------------------------------------------------------------------- pipeline


def _read(spiff: Any, paths: Iterable[Path]) -> list[tuple[str, Any]]:
    return [(str(p), spiff.load_yaml_file(str(p))) for p in paths]


def build_from_checkouts(
    cf_release: Path,
    diego_release: Path,
    *,
    etcd_release: Path | None = None,
    garden_release: Path | None = None,
    versions: str | Path | None = None,
    target: str | Path = "bosh-lite",
    director_uuid: str | None = None,
    stubs: Iterable[str | Path] = (),
    prefix: str = "cf-warden",
    piece_stubs: Mapping[str, Iterable[str | Path]] | None = None,
    cf_admin_user: str | None = None,
    cf_admin_password: str | None = None,
    out: Path | None = None,
) -> dict[str, dict[str, Any]]:
    import manifests.spiff as spiff

    problems: list[str] = []
    pins: dict[str, str] = {}
    absent: set[str] = set()
    for flag, path in (("cf_release", cf_release), ("diego_release", diego_release),
                       ("etcd_release", etcd_release), ("garden_release", garden_release)):
        if path is None:
            continue
        if not Path(path).is_dir():  # one message per missing path (not also "not a checkout")
            what = "no such directory" if not Path(path).exists() else "not a directory"
            problems.append(f"--{flag.replace('_', '-')} {path}: {what}")
            absent.add(flag)
            continue
        pins.update(last_created_versions(Path(path)))
    cf = inspect_cf(Path(cf_release), Path(diego_release), problems) if "cf_release" not in absent else None
    diego = inspect_diego(Path(diego_release), problems) if "diego_release" not in absent else None
    stemcell = dict(DEFAULT_STEMCELL)
    if versions is not None:
        try:
            explicit = load_version_set(versions, required=())
            pins.update(explicit.releases)
            stemcell = dict(explicit.stemcell)
        except VersionSetError as exc:
            problems.extend(exc.problems)
    target_desc = None
    try:
        target_desc = load_target(target)
    except TargetError as exc:
        problems.extend(exc.problems)
    if not director_uuid:
        problems.append("no director UUID: give --director-uuid or --director-url")
    user, per_piece = load_user_stubs(spiff, stubs, piece_stubs, problems)
    if out is not None:
        problems.extend(check_out_dir(Path(out)))
    if problems:
        raise GenerationError(problems)
    assert cf is not None and diego is not None and target_desc is not None

    director_stub = ("director stub", {"director_uuid": director_uuid})
    manifests: dict[str, dict[str, Any]] = {}
    try:
        cf_docs = [*_read(spiff, cf.templates), *_read(spiff, cf.dev_stubs_before_director), director_stub,
                   *_read(spiff, cf.dev_stubs_after_director),
                   *_read(spiff, [STUBS / "checkout" / "cf-piecewise.yml"]), *user, *per_piece["cf"]]
        merged = spiff.merge(cf_docs)
    except spiff.SpiffError as exc:
        raise GenerationError([_problem("cf.yml", spiff, exc)])
    pin = pin_stub(merged, prefix, pins, stemcell, "cf.yml", problems)
    if problems:
        raise GenerationError(problems)
    manifests["cf"] = spiff.merge([("cf.yml", merged), ("pins", pin)])
    set_admin(manifests["cf"], cf_admin_user, cf_admin_password)

    mg, lite = diego.mg, diego.lite
    try:
        config = spiff.merge([*_read(spiff, [mg / "config-from-cf.yml", mg / "config-from-cf-internal.yml"]),
                              ("cf.yml", manifests["cf"])])
        upstream_iaas = spiff.load_yaml_file(str(lite / "iaas-settings.yml"))
        overrides = _read(spiff, [lite / "property-overrides.yml"])
    except spiff.SpiffError as exc:
        raise GenerationError([_problem("config-from-cf", spiff, exc)])
    for piece in DIEGO_PIECES:
        counts = (f"{piece} instance counts", instance_counts(piece))
        iaas = (f"{piece} iaas settings", iaas_settings(upstream_iaas, target_desc, piece, stemcell))
        try:
            if diego.era == "positional":
                inter = spiff.merge([*_read(spiff, [mg / "diego.yml"]), *overrides, counts,
                                     *_read(spiff, [lite / "persistent-disk-overrides.yml"]), iaas,
                                     *_read(spiff, [lite / "additional-jobs.yml"]), ("config-from-cf", config)])
                final = spiff.merge([*_read(spiff, [mg / "misc-templates" / "bosh.yml"]), director_stub,
                                     ("intermediate", inter)])
            else:
                inter = spiff.merge([*_read(spiff, [mg / "diego.yml"]), *overrides, counts, iaas,
                                     *_read(spiff, [lite / "release-versions.yml"]), ("config-from-cf", config)])
                final = spiff.merge([*_read(spiff, [mg / "misc-templates" / "bosh.yml"]), ("intermediate", inter)])
        except spiff.SpiffError as exc:
            problems.append(_problem(f"{piece}.yml", spiff, exc))
            continue
        pin = pin_stub(final, prefix + PIECES[piece], pins, stemcell, f"{piece}.yml", problems)
        try:
            manifests[piece] = spiff.merge([(f"{piece}.yml", final), ("pins", pin), *user, *per_piece[piece]])
        except spiff.SpiffError as exc:
            problems.append(_problem(f"{piece}.yml", spiff, exc))
    if problems:
        raise GenerationError(problems)
    return manifests


def _problem(what: str, spiff: Any, exc: BaseException) -> str:
    if isinstance(exc, spiff.UnresolvedNodesError):
        return f"{what}: unresolved nodes:\n" + "\n".join(f"  {line.strip()}" for line in exc.lines())
    return f"{what}: {exc}"


def generate_from_checkouts(cf_release: Path, diego_release: Path, *, out: Path, **kwargs: Any) -> dict[str, Path]:
    """Write the five manifests from release checkouts into `out` (all or nothing)."""
    manifests = build_from_checkouts(cf_release, diego_release, out=out, **kwargs)
    written = output.write_atomically(Path(out), {f"{piece}.yml": dump(m) for piece, m in manifests.items()})
    return {piece: written[f"{piece}.yml"] for piece in PIECES}
