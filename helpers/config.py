"""Load and validate the suite config (YAML or JSON), reporting every problem at once.

Why strict: the prior suites (CATs, DUSTs, uptimer) silently ignored unknown keys, so a typo
such as `admin_pasword` surfaced an hour later as a login failure. Here an unknown key is an
error with a "did you mean" hint, every problem is collected into one ConfigError, and the
flat key names of CATs/DUSTs configs are accepted and mapped onto our sections so an
existing integration config works unchanged. See docs/configuration.md for the reference.
"""

from __future__ import annotations

import difflib
import ipaddress
import json
import os
import re
import ssl
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from helpers.net import REDACTOR, Resolver, TlsSettings, parse_resolve_map, pem_certificates

__all__ = [
    "TIMEOUT_DEFAULTS",
    "BoshConfig",
    "CfConfig",
    "Config",
    "ConfigError",
    "PromotionConfig",
    "PromotionEnvironment",
    "S3Config",
    "UpgradeConfig",
    "load_config",
    "parse_config",
]

# Named timeouts in seconds, before `timeout_scale`. Every bounded wait in helpers/ uses one.
TIMEOUT_DEFAULTS: dict[str, float] = {
    "http_connect": 10.0,  # TCP+TLS connect of any API request
    "http_read": 60.0,  # read timeout of one API request
    "login": 60.0,  # UAA login / director auth, including retries while the API comes up
    "api_ready": 300.0,  # wait for /v2/info (or the director) to answer after a deploy
    "bosh_deploy": 3600.0,  # one deploy task (DUSTs learned: 30-60 min on BOSH-Lite)
    "bosh_task": 1800.0,  # any other task: stop/start, delete, instances format=full
    "bosh_upload": 1800.0,  # release / stemcell upload task
    "cf_push": 900.0,  # whole push: create, upload, stage, start, running
    "cf_upload": 300.0,  # bits upload job
    "cf_staging": 900.0,  # package_state PENDING -> STAGED
    "app_start": 300.0,  # all instances RUNNING after start
    "scale": 300.0,  # scale up/down settles (RUNNING / gone)
    "route_ready": 120.0,  # app route answers from every instance
    "route_gone": 120.0,  # deleted route answers unknown_route
    "logs": 60.0,  # a printed line shows up in recent logs
    "ssh": 60.0,  # ssh into an instance succeeds (retries included)
    "evacuation": 600.0,  # apps land on other cells after a cell drains
    "delete": 300.0,  # delete app / route / org
}

# Flat CATs/DUSTs keys -> our dotted key. (Values go where the dotted key says.)
ALIASES: dict[str, str] = {
    "api": "cf.api",
    "apps_domain": "cf.apps_domain",
    "system_domain": "cf.system_domain",
    "admin_user": "cf.admin_user",
    "admin_password": "cf.admin_password",
    "bosh_director_url": "bosh.url",
    "bosh_target": "bosh.url",
    "bosh_admin_user": "bosh.username",
    "bosh_admin_password": "bosh.password",
    "bosh_client": "bosh.client",
    "bosh_client_secret": "bosh.client_secret",
    "bosh_ca_cert": "bosh.ca_cert",
    "bosh_skip_ssl_validation": "bosh.skip_ssl_validation",
    "default_timeout": "timeouts.http_read",
    "cf_push_timeout": "timeouts.cf_push",
    "long_curl_timeout": "timeouts.route_ready",
    "staging_timeout": "timeouts.cf_staging",
    "artifacts_directory": "artifacts_dir",
}
# Within sections: alternative spellings.
SECTION_ALIASES: dict[str, dict[str, str]] = {
    "bosh": {"target": "url", "director_url": "url", "user": "username", "ca_cert_file": "ca_cert"},
    "cf": {"api_url": "api", "username": "admin_user", "password": "admin_password", "ca_cert_file": "ca_cert"},
}
# CATs/DUSTs keys accepted but without meaning here: each gets a warning saying why.
IGNORED_KEYS: dict[str, str] = {
    "max_polling_errors": "outage tolerance is by duration here: set "
                          "observers.a0_routable.policy.<step>.max_outage (seconds)",
    "backend": "apps are always pushed with diego: true",
    "use_http": "app routes are reached over http and https as the resolve map allows",
    "name_prefix": "resource names use the run id prefix",
    "existing_user": "the suite logs in as admin_user",
    "use_existing_user": "the suite logs in as admin_user",
    "keep_user_at_suite_end": "the suite logs in as admin_user",
    "verbose": "use pytest -v",
    "broker_start_timeout": "no service brokers are used",
    "async_service_operation_timeout": "no service brokers are used",
    "detect_timeout": "use timeouts.cf_staging",
    "sleep_timeout": "not used",
    "skip_diego_unsupported_tests": "not used",
    "stacks": "not used",
    "override_domain": "use cf.system_domain and cf.apps_domain",
}
IGNORED_PREFIXES = ("include_", "persistent_app_")

TLS_KEYS = {"ca_cert", "skip_ssl_validation", "tls_allow_sha1", "tls_hostname_from_cn"}
SECTION_KEYS: dict[str, set[str]] = {
    "bosh": {"url", "username", "password", "client", "client_secret", *TLS_KEYS},
    "cf": {"api", "apps_domain", "system_domain", "admin_user", "admin_password", *TLS_KEYS},
    "upgrade": {"deployment_prefix", "versions", "manifests", "stubs", "cell_stop"},
    "poller": {"interval", "connect_timeout", "read_timeout", "workers", "policy"},  # = observers.a0_routable
    "promotion": {"store", "s3", "upstream", "allowed_diff_paths", "environments"},
}
TOP_KEYS = {*SECTION_KEYS, "observers", "resolve", "timeout_scale", "timeouts", "artifacts_dir", "loopback_only",
            "skip_ssl_validation"}
S3_KEYS = {"endpoint_url", "region", "access_key_id", "secret_access_key"}
PROMOTION_ENVIRONMENTS = ("dev1", "dev2", "staging", "production")
SECRET_KEYS = {"password", "client_secret", "admin_password", "secret_access_key", "access_key_id"}
REDACTED = "[REDACTED]"


class ConfigError(Exception):
    """Every problem found in a config, listed one per line."""

    def __init__(self, problems: list[str], source: str | None = None):
        self.problems = list(problems)
        self.source = source
        super().__init__(self.__str__())

    def __str__(self) -> str:
        head = f"invalid config {self.source}" if self.source else "invalid config"
        n = len(self.problems)
        lines = [f"{head}: {n} problem{'s' if n != 1 else ''}"] + [f"  - {p}" for p in self.problems]
        return REDACTOR.redact("\n".join(lines))


# --------------------------------------------------------------------------- dataclasses


@dataclass(frozen=True)
class BoshConfig:
    url: str | None = None
    ca_cert: str | None = None  # always PEM text after loading (file paths are read)
    skip_ssl_validation: bool = False
    username: str | None = None
    password: str | None = None
    client: str | None = None
    client_secret: str | None = None
    tls_allow_sha1: bool = False  # a 2015 BOSH-Lite director's certificate is SHA-1 signed
    tls_hostname_from_cn: bool = False
    section: str = "bosh"  # where these settings are in the config (TLS messages name its keys)

    @property
    def tls(self) -> TlsSettings:
        return TlsSettings(self.ca_cert, self.skip_ssl_validation, self.tls_allow_sha1,
                           self.tls_hostname_from_cn, self.section)


@dataclass(frozen=True)
class CfConfig:
    api: str | None = None
    apps_domain: str | None = None
    system_domain: str | None = None
    admin_user: str | None = None
    admin_password: str | None = None
    ca_cert: str | None = None
    skip_ssl_validation: bool = False
    tls_allow_sha1: bool = False
    tls_hostname_from_cn: bool = False  # cf v231's BOSH-Lite HAProxy certificate has no SAN

    @property
    def tls(self) -> TlsSettings:
        return TlsSettings(self.ca_cert, self.skip_ssl_validation, self.tls_allow_sha1,
                           self.tls_hostname_from_cn, "cf")


@dataclass(frozen=True)
class UpgradeConfig:
    deployment_prefix: str = "cf-warden"
    versions: Mapping[str, str] = field(default_factory=lambda: {"v0": "v0", "v_prime": "v_prime"})
    manifests: Mapping[str, str | None] = field(default_factory=lambda: {"v0": None, "v_prime": None})
    stubs: tuple[str, ...] = ()
    cell_stop: str = "stop"


@dataclass(frozen=True)
class S3Config:
    endpoint_url: str | None = None
    region: str | None = None  # None: $AWS_REGION / $AWS_DEFAULT_REGION, else us-east-1
    access_key_id: str | None = None
    secret_access_key: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class PromotionEnvironment:
    """One Redis environment as the config states it. `deployment` and `director_uuid` are
    the pipeline's policy (kept with the ledger): stating them here only asserts them.
    `bosh`: the director of this environment when it is not the top-level `bosh` one."""

    deployment: str | None = None
    director_uuid: str | None = None
    bosh: BoshConfig | None = None


@dataclass(frozen=True)
class PromotionConfig:
    store: str = "./promotion-store"
    s3: S3Config = field(default_factory=S3Config)
    upstream: str | None = None
    # gate policy lives with the ledger: None = the config states none (see promotion/policy.py)
    allowed_diff_paths: tuple[str, ...] | None = None
    environments: Mapping[str, PromotionEnvironment] = field(default_factory=dict)


@dataclass(frozen=True)
class Config:
    bosh: BoshConfig = field(default_factory=BoshConfig)
    cf: CfConfig = field(default_factory=CfConfig)
    resolve: Mapping[str, str] = field(default_factory=dict)
    timeout_scale: float = 1.0
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(TIMEOUT_DEFAULTS))  # unscaled
    artifacts_dir: Path = Path("artifacts")
    upgrade: UpgradeConfig = field(default_factory=UpgradeConfig)
    # measurement name -> {enabled, policy: {step title or kind -> {enforce, max_outage}}, options}
    observers: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    promotion: PromotionConfig = field(default_factory=PromotionConfig)
    loopback_only: bool = False
    source: str | None = None
    warnings: tuple[str, ...] = ()

    def timeout(self, name: str) -> float:
        """The named timeout in seconds, multiplied by `timeout_scale`."""
        if name not in self.timeouts:
            raise KeyError(f"unknown timeout {name!r}{_hint(name, self.timeouts)}")
        return float(self.timeouts[name]) * self.timeout_scale

    def effective_timeouts(self) -> dict[str, float]:
        """Every named timeout after scaling (printed at the start of a run)."""
        return {n: self.timeout(n) for n in sorted(self.timeouts)}

    def resolver(self) -> Resolver:
        return Resolver(self.resolve, loopback_only=self.loopback_only)

    def with_cf_trust(self, certificates: Iterable[str]) -> Config:
        """This config, trusting also `certificates` (PEM) for CF: how the suite trusts exactly
        the HAProxy certificate it deploys (`ha_proxy.ssl_pem`) without any user setting."""
        known = pem_certificates(self.cf.ca_cert or "")
        extra = [c for c in dict.fromkeys(certificates) if c not in known]
        if not extra:
            return self
        return replace(self, cf=replace(self.cf, ca_cert="".join([*known, *extra])))

    def redacted(self) -> dict[str, Any]:
        """The config as plain data with every secret replaced (safe to print or archive)."""

        def conv(obj: Any, key: str = "") -> Any:
            if key in SECRET_KEYS and obj is not None:
                return REDACTED
            if key == "ca_cert" and isinstance(obj, str):
                n = obj.count("BEGIN CERTIFICATE")
                return f"<PEM: {n} certificate{'s' if n != 1 else ''}>"
            if hasattr(obj, "__dataclass_fields__"):
                return {k: conv(getattr(obj, k), k) for k in obj.__dataclass_fields__}
            if isinstance(obj, Mapping):
                return {str(k): conv(v, str(k)) for k, v in obj.items()}
            if isinstance(obj, list | tuple):
                return [conv(v) for v in obj]
            if isinstance(obj, Path):
                return str(obj)
            return obj

        out = conv(self)
        out["effective_timeouts"] = self.effective_timeouts()
        return out


# --------------------------------------------------------------------------- loading


def load_config(path: str | os.PathLike[str] | None, env: Mapping[str, str] | None = None, *,
                observers: Mapping[str, Iterable[str]] | None = None) -> Config | None:
    """Load the config from `path`, else from `$CONFIG`; None means "start the simulator".

    `$CONFIG` is a file path, or inline JSON when it starts with `{`. `observers` (name ->
    option names, from the observer registry) makes unknown measurements and options
    config errors like any other; without it only the section's shape is checked.
    """
    env = os.environ if env is None else env
    inline: str | None = None
    if path is None:
        value = (env.get("CONFIG") or "").strip()
        if not value:
            return None
        if value.startswith("{"):
            inline = value
        else:
            path = value
    if inline is not None:
        return parse_config(_parse_text(inline, "$CONFIG"), source="$CONFIG", base_dir=Path.cwd(),
                            observers=observers)
    p = Path(path)  # type: ignore[arg-type]
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as e:
        raise ConfigError([f"cannot read config file: {e.strerror or e}"], source=str(p))
    data = _parse_text(text, str(p))
    return parse_config(data, source=str(p), base_dir=p.resolve().parent, observers=observers)


def _parse_text(text: str, source: str) -> Any:
    try:
        if source.endswith(".json") or text.lstrip().startswith("{"):
            try:
                return json.loads(text)
            except json.JSONDecodeError:
                pass  # YAML is a superset of JSON: let YAML produce the error if it really is broken
        return yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError([f"not valid YAML/JSON: {e}"], source=source)


def _hint(key: str, known: Any) -> str:
    match = difflib.get_close_matches(str(key), [str(k) for k in known], n=1, cutoff=0.6)
    return f" (did you mean {match[0]!r}?)" if match else ""


class _Checker:
    """Collects problems while converting raw values (never raises until the end)."""

    def __init__(self, base_dir: Path):
        self.problems: list[str] = []
        self.warnings: list[str] = []
        self.base_dir = base_dir

    def add(self, msg: str) -> None:
        self.problems.append(msg)

    def str_(self, where: str, v: Any, required: bool = False) -> str | None:
        if v is None:
            if required:
                self.add(f"{where}: required")
            return None
        if isinstance(v, bool) or not isinstance(v, str | int | float):
            self.add(f"{where}: expected a string, got {type(v).__name__}")
            return None
        s = str(v)
        if required and not s.strip():
            self.add(f"{where}: must not be empty")
            return None
        return s

    def bool_(self, where: str, v: Any, default: bool) -> bool:
        if v is None:
            return default
        if isinstance(v, bool):
            return v
        if isinstance(v, str) and v.lower() in ("true", "false", "yes", "no"):
            return v.lower() in ("true", "yes")
        self.add(f"{where}: expected true or false, got {v!r}")
        return default

    def num(self, where: str, v: Any, default: float, minimum: float = 0.0, strict: bool = True) -> float:
        if v is None:
            return default
        if isinstance(v, bool) or not isinstance(v, int | float):
            try:
                v = float(v) if isinstance(v, str) else None
            except ValueError:
                v = None
            if v is None:
                self.add(f"{where}: expected a number of seconds")
                return default
        if (strict and v <= minimum) or (not strict and v < minimum):
            self.add(f"{where}: must be {'>' if strict else '>='} {minimum:g}, got {v:g}")
            return default
        return float(v)

    def mapping(self, where: str, v: Any) -> dict[str, Any]:
        if v is None:
            return {}
        if not isinstance(v, Mapping):
            self.add(f"{where}: expected a mapping, got {type(v).__name__}")
            return {}
        return dict(v)

    def keys(self, where: str, data: Mapping[str, Any], allowed: set[str]) -> None:
        for k in data:
            if k not in allowed:
                self.add(f"{where}{k}: unknown key{_hint(k, allowed)}")

    def url(self, where: str, v: Any, default_port: int | None = None, required: bool = False) -> str | None:
        s = self.str_(where, v, required)
        if s is None:
            return None
        s = s.strip()
        if "://" not in s:
            s = "https://" + s
        parts = urlsplit(s)
        if parts.scheme not in ("http", "https"):
            self.add(f"{where}: URL scheme must be http or https, got {parts.scheme!r}")
            return None
        if not parts.hostname:
            self.add(f"{where}: URL {s!r} has no host")
            return None
        try:
            port = parts.port
        except ValueError:
            self.add(f"{where}: URL {s!r} has an invalid port")
            return None
        if parts.query or parts.fragment:
            self.add(f"{where}: URL {s!r} must not have a query or fragment")
            return None
        if port is None and default_port is not None:
            s = f"{parts.scheme}://{parts.netloc}:{default_port}{parts.path}"
        return s.rstrip("/")

    def ca(self, where: str, v: Any) -> str | None:
        s = self.str_(where, v)
        if s is None or not s.strip():
            return None
        if "-----BEGIN" not in s:
            p = Path(s).expanduser()
            if not p.is_absolute():
                p = self.base_dir / p
            try:
                s = p.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as e:
                self.add(f"{where}: cannot read CA file {str(p)!r}: {getattr(e, 'strerror', None) or e}")
                return None
        try:
            ssl.create_default_context(cadata=s)
        except (ssl.SSLError, ValueError) as e:
            self.add(f"{where}: not a valid PEM certificate ({e})")
            return None
        return s


def _apply_aliases(data: dict[str, Any], chk: _Checker) -> dict[str, Any]:
    """Move flat CATs/DUSTs keys to their sections; conflicts and ignored keys are reported."""
    out: dict[str, Any] = {}
    for k, v in data.items():
        if k in TOP_KEYS:
            out[k] = v
    sections: dict[str, dict[str, Any]] = {}
    for k, v in data.items():
        if k in TOP_KEYS:
            continue
        if k in ALIASES:
            target = ALIASES[k]
            if "." in target:
                sec, sub = target.split(".", 1)
                explicit = out.get(sec)
                if isinstance(explicit, Mapping) and sub in explicit and explicit[sub] != v:
                    chk.add(f"{k}: conflicts with {target} (give only one)")
                    continue
                sections.setdefault(sec, {})[sub] = v
            else:
                if target in out and out[target] != v:
                    chk.add(f"{k}: conflicts with {target} (give only one)")
                    continue
                out[target] = v
        elif k in IGNORED_KEYS or k.startswith(IGNORED_PREFIXES):
            why = IGNORED_KEYS.get(k, "test groups are chosen with pytest -k / paths")
            chk.warnings.append(f"{k}: accepted for CATs/DUSTs compatibility but ignored: {why}")
        else:
            known = set(TOP_KEYS) | set(ALIASES)
            chk.add(f"{k}: unknown key{_hint(k, known)}")
    for sec, values in sections.items():
        base = out.get(sec)
        if base is None:
            out[sec] = values
        elif isinstance(base, Mapping):
            out[sec] = {**values, **base}
    return out


def _section(chk: _Checker, data: Mapping[str, Any], name: str) -> dict[str, Any] | None:
    raw = data.get(name)
    if raw is None:
        return None
    sec = chk.mapping(name, raw)
    for alt, canon in SECTION_ALIASES.get(name, {}).items():
        if alt in sec:
            if canon in sec and sec[canon] != sec[alt]:
                chk.add(f"{name}.{alt}: conflicts with {name}.{canon} (give only one)")
            sec.setdefault(canon, sec.pop(alt))
            sec.pop(alt, None)
    chk.keys(f"{name}.", sec, SECTION_KEYS[name])
    return sec


def parse_config(data: Any, source: str | None = None, base_dir: Path | None = None, *,
                 observers: Mapping[str, Iterable[str]] | None = None) -> Config:
    """Validate already-parsed config data and build a Config; raises ConfigError with all problems."""
    chk = _Checker(base_dir or Path.cwd())
    if not isinstance(data, Mapping):
        raise ConfigError([f"top level must be a mapping, got {type(data).__name__}"], source=source)
    for k in data:
        if not isinstance(k, str):
            chk.add(f"{k!r}: keys must be strings")
    data = _apply_aliases({str(k): v for k, v in data.items()}, chk)
    _register_secrets(data)

    top_skip = data.get("skip_ssl_validation")
    top_skip_b = chk.bool_("skip_ssl_validation", top_skip, False)

    bosh = _bosh(chk, data, top_skip_b)
    cf = _cf(chk, data, top_skip_b)
    if data.get("bosh") is None and data.get("cf") is None:
        chk.add("neither bosh nor cf is configured (give at least one; no config at all starts the simulator)")

    resolve_raw = chk.mapping("resolve", data.get("resolve"))
    rmap, rproblems = parse_resolve_map(resolve_raw)
    chk.problems.extend(rproblems)
    loopback_only = chk.bool_("loopback_only", data.get("loopback_only"), False)
    if not rproblems:
        for target in rmap.targets():
            host = target.split("/")[0]
            try:
                if not ipaddress.ip_address(host).is_loopback:
                    chk.warnings.append(f"resolve: target {target} is outside 127.0.0.0/8")
            except ValueError:
                chk.warnings.append(f"resolve: target {target} is a name, not an address")

    scale = chk.num("timeout_scale", data.get("timeout_scale"), 1.0)
    timeouts = dict(TIMEOUT_DEFAULTS)
    for k, v in chk.mapping("timeouts", data.get("timeouts")).items():
        if k not in TIMEOUT_DEFAULTS:
            chk.add(f"timeouts.{k}: unknown timeout{_hint(k, TIMEOUT_DEFAULTS)}; known: {', '.join(sorted(TIMEOUT_DEFAULTS))}")
            continue
        timeouts[k] = chk.num(f"timeouts.{k}", v, TIMEOUT_DEFAULTS[k])

    art = chk.str_("artifacts_dir", data.get("artifacts_dir"))
    artifacts_dir = Path(art) if art else Path("artifacts")

    upgrade = _upgrade(chk, data)
    observer_sections = _observers(chk, data, observers)
    promotion = _promotion(chk, data)

    if chk.problems:
        raise ConfigError(chk.problems, source=source)
    REDACTOR.register(bosh.password, bosh.client_secret, cf.admin_password, promotion.s3.secret_access_key)
    return Config(
        bosh=bosh, cf=cf, resolve=dict(resolve_raw), timeout_scale=scale, timeouts=timeouts,
        artifacts_dir=artifacts_dir, upgrade=upgrade, observers=observer_sections, promotion=promotion,
        loopback_only=loopback_only, source=source, warnings=tuple(chk.warnings),
    )


def _register_secrets(data: Any) -> None:
    """Register secret-looking values up front so even a failing config never echoes them."""
    if isinstance(data, Mapping):
        for k, v in data.items():
            if k in SECRET_KEYS and isinstance(v, str):
                REDACTOR.register(v)
            else:
                _register_secrets(v)


def _bosh(chk: _Checker, data: Mapping[str, Any], top_skip: bool) -> BoshConfig:
    sec = _section(chk, data, "bosh")
    if sec is None:
        return BoshConfig(skip_ssl_validation=top_skip)
    return _bosh_fields(chk, sec, "bosh", top_skip)


def _bosh_fields(chk: _Checker, sec: Mapping[str, Any], where: str, top_skip: bool) -> BoshConfig:
    """A director's connection settings, at `where` (the `bosh` section, or an environment's
    own director under `promotion.environments.<env>.bosh`)."""
    url = chk.url(f"{where}.url", sec.get("url"), default_port=25555, required=True)
    user, pw = chk.str_(f"{where}.username", sec.get("username")), chk.str_(f"{where}.password", sec.get("password"))
    client = chk.str_(f"{where}.client", sec.get("client"))
    secret = chk.str_(f"{where}.client_secret", sec.get("client_secret"))
    if (user or pw) and (client or secret):
        chk.add(f"{where}: give either username/password (basic) or client/client_secret (UAA), not both")
    elif user or pw:
        if not user:
            chk.add(f"{where}.username: required with {where}.password")
        if not pw:
            chk.add(f"{where}.password: required with {where}.username")
    elif client or secret:
        if not client:
            chk.add(f"{where}.client: required with {where}.client_secret")
        if secret is None:
            chk.add(f"{where}.client_secret: required with {where}.client")
    else:
        chk.add(f"{where}: credentials required: username + password, or client + client_secret")
    ca, skip, sha1, from_cn = _tls_options(chk, where, sec, top_skip)
    return BoshConfig(url, ca, skip, user, pw, client, secret, sha1, from_cn, where)


_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$",
                     re.IGNORECASE)


def _cf(chk: _Checker, data: Mapping[str, Any], top_skip: bool) -> CfConfig:
    sec = _section(chk, data, "cf")
    if sec is None:
        return CfConfig(skip_ssl_validation=top_skip)
    api = chk.url("cf.api", sec.get("api"), required=True)
    domains = {}
    for k in ("apps_domain", "system_domain"):
        d = chk.str_(f"cf.{k}", sec.get(k))
        if d is not None and not _DOMAIN.match(d):
            chk.add(f"cf.{k}: {d!r} is not a domain name")
            d = None
        domains[k] = d
    if domains["system_domain"] is None and api:
        host = urlsplit(api).hostname or ""
        if "." in host and not _is_ip(host):
            domains["system_domain"] = host.split(".", 1)[1]
    user = chk.str_("cf.admin_user", sec.get("admin_user"), required=True)
    pw = chk.str_("cf.admin_password", sec.get("admin_password"), required=True)
    ca, skip, sha1, from_cn = _tls_options(chk, "cf", sec, top_skip)
    return CfConfig(api, domains["apps_domain"], domains["system_domain"], user, pw, ca, skip, sha1, from_cn)


def _tls_options(chk: _Checker, name: str, sec: Mapping[str, Any],
                 top_skip: bool) -> tuple[str | None, bool, bool, bool]:
    """ca_cert, skip_ssl_validation, tls_allow_sha1, tls_hostname_from_cn of one section."""
    skip = chk.bool_(f"{name}.skip_ssl_validation", sec.get("skip_ssl_validation"), top_skip)
    ca = chk.ca(f"{name}.ca_cert", sec.get("ca_cert"))
    sha1 = chk.bool_(f"{name}.tls_allow_sha1", sec.get("tls_allow_sha1"), False)
    from_cn = chk.bool_(f"{name}.tls_hostname_from_cn", sec.get("tls_hostname_from_cn"), False)
    if skip and ca:
        chk.warnings.append(f"{name}: skip_ssl_validation is true, so ca_cert is not used")
    if sha1 and not ca and not skip:
        chk.add(f"{name}.tls_allow_sha1: needs {name}.ca_cert (SHA-1 signatures are accepted only in a chain "
                "that ends at a CA you name, never from the system trust store)")
    if skip and (sha1 or from_cn):
        chk.warnings.append(f"{name}: skip_ssl_validation is true, so the tls_* options are not used")
    return ca, skip, sha1, from_cn


def _is_ip(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        return False


def _upgrade(chk: _Checker, data: Mapping[str, Any]) -> UpgradeConfig:
    sec = _section(chk, data, "upgrade")
    if sec is None:
        return UpgradeConfig()
    d = UpgradeConfig()
    prefix = chk.str_("upgrade.deployment_prefix", sec.get("deployment_prefix")) or d.deployment_prefix
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", prefix):
        chk.add(f"upgrade.deployment_prefix: {prefix!r} is not a valid deployment name prefix")
    pair = {"v0", "v_prime"}
    versions = dict(d.versions)
    raw = chk.mapping("upgrade.versions", sec.get("versions"))
    chk.keys("upgrade.versions.", raw, pair)
    for k in pair & raw.keys():
        versions[k] = chk.str_(f"upgrade.versions.{k}", raw[k], required=True) or versions[k]
    manifests = dict(d.manifests)
    raw = chk.mapping("upgrade.manifests", sec.get("manifests"))
    chk.keys("upgrade.manifests.", raw, pair)
    for k in pair & raw.keys():
        manifests[k] = chk.str_(f"upgrade.manifests.{k}", raw[k])
    stubs_raw = sec.get("stubs") or []
    stubs: list[str] = []
    if not isinstance(stubs_raw, list):
        chk.add("upgrade.stubs: expected a list of file paths")
    else:
        for i, s in enumerate(stubs_raw):
            v = chk.str_(f"upgrade.stubs[{i}]", s, required=True)
            if v:
                stubs.append(v)
    cell_stop = chk.str_("upgrade.cell_stop", sec.get("cell_stop")) or "stop"
    if cell_stop not in ("stop", "delete"):
        chk.add(f"upgrade.cell_stop: must be 'stop' or 'delete', got {cell_stop!r}")
    return UpgradeConfig(prefix, versions, manifests, tuple(stubs), cell_stop)


OBSERVER_COMMON = ("enabled", "policy")


def _observers(chk: _Checker, data: Mapping[str, Any],
               known: Mapping[str, Iterable[str]] | None) -> dict[str, dict[str, Any]]:
    """`observers.<name>`: `enabled`, `policy` (step title or kind -> {enforce, max_outage}) and
    the measurement's own numeric options (seconds, rates). `poller` is the older name of
    `observers.a0_routable`."""
    raw = {str(k): v for k, v in chk.mapping("observers", data.get("observers")).items()}
    if data.get("poller") is not None:
        if "a0_routable" in raw:
            chk.add("poller: the older name of observers.a0_routable; give only one")
        else:
            raw["a0_routable"] = data["poller"]
            chk.warnings.append("poller: read as observers.a0_routable (its name since measurements became observers)")
    out: dict[str, dict[str, Any]] = {}
    for name, sec in raw.items():
        where = f"observers.{name}"
        if known is not None and name not in known:
            chk.add(f"{where}: unknown measurement{_hint(name, known)}; known: {', '.join(known)}")
            continue
        sec = chk.mapping(where, sec)
        options = set(known[name]) if known is not None else None
        entry: dict[str, Any] = {}
        for key, value in sec.items():
            if key == "enabled":
                entry["enabled"] = chk.bool_(f"{where}.enabled", value, True)
            elif key == "policy":
                policy: dict[str, dict[str, Any]] = {}
                for step, p in chk.mapping(f"{where}.policy", value).items():
                    pw = f"{where}.policy.{step}"
                    pm = chk.mapping(pw, p)
                    chk.keys(f"{pw}.", pm, {"enforce", "max_outage"})
                    policy[str(step)] = {"enforce": chk.bool_(f"{pw}.enforce", pm.get("enforce"), True),
                                         "max_outage": chk.num(f"{pw}.max_outage", pm.get("max_outage"), 0.0,
                                                               strict=False)}
                entry["policy"] = policy
            elif options is not None and key not in options:
                allowed = [*OBSERVER_COMMON, *sorted(options)]
                chk.add(f"{where}.{key}: unknown option{_hint(key, allowed)}; known: {', '.join(allowed)}")
            else:
                entry[str(key)] = chk.num(f"{where}.{key}", value, 1.0)
        out[name] = entry
    return out


def _promotion(chk: _Checker, data: Mapping[str, Any]) -> PromotionConfig:
    sec = _section(chk, data, "promotion")
    if sec is None:
        return PromotionConfig()
    d = PromotionConfig()
    store = chk.str_("promotion.store", sec.get("store")) or d.store
    s3raw = chk.mapping("promotion.s3", sec.get("s3"))
    chk.keys("promotion.s3.", s3raw, S3_KEYS)
    s3 = S3Config(
        endpoint_url=chk.url("promotion.s3.endpoint_url", s3raw.get("endpoint_url")),
        region=chk.str_("promotion.s3.region", s3raw.get("region")),
        access_key_id=chk.str_("promotion.s3.access_key_id", s3raw.get("access_key_id")),
        secret_access_key=chk.str_("promotion.s3.secret_access_key", s3raw.get("secret_access_key")),
    )
    if store.startswith("s3://") and len(store) <= len("s3://"):
        chk.add("promotion.store: s3:// needs a bucket (s3://bucket/prefix)")
    upstream = chk.str_("promotion.upstream", sec.get("upstream"))
    paths_raw = sec.get("allowed_diff_paths")
    paths = d.allowed_diff_paths
    if paths_raw is not None:
        if not isinstance(paths_raw, list) or not all(isinstance(p, str) and p for p in paths_raw):
            chk.add("promotion.allowed_diff_paths: expected a list of dotted paths")
        else:
            paths = tuple(paths_raw)
    envs: dict[str, PromotionEnvironment] = {}
    for name, e in chk.mapping("promotion.environments", sec.get("environments")).items():
        where = f"promotion.environments.{name}"
        if name not in PROMOTION_ENVIRONMENTS:
            chk.add(f"{where}: unknown environment (one of {', '.join(PROMOTION_ENVIRONMENTS)})")
        em = chk.mapping(where, e)
        chk.keys(f"{where}.", em, {"deployment", "director_uuid", "bosh"})
        bosh_raw = em.get("bosh")
        env_bosh = None
        if bosh_raw is not None:
            bm = chk.mapping(f"{where}.bosh", bosh_raw)
            chk.keys(f"{where}.bosh.", bm, SECTION_KEYS["bosh"])
            env_bosh = _bosh_fields(chk, bm, f"{where}.bosh", False)
        envs[str(name)] = PromotionEnvironment(chk.str_(f"{where}.deployment", em.get("deployment")),
                                               chk.str_(f"{where}.director_uuid", em.get("director_uuid")), env_bosh)
    return PromotionConfig(store, s3, upstream, paths, envs)
