"""Config loading: formats, CATs/DUSTs aliases, strict keys, aggregated problems, CA handling."""

from __future__ import annotations

import dataclasses
import json
import re

import pytest
import yaml

from helpers.config import TIMEOUT_DEFAULTS, ConfigError, load_config, parse_config

BOSH = {"url": "https://192.168.50.4:25555", "username": "admin", "password": "bosh-pw-123"}
CF = {"api": "https://api.bosh-lite.com", "apps_domain": "bosh-lite.com", "admin_user": "admin",
      "admin_password": "cf-pw-456"}


def _problems(data) -> list[str]:
    with pytest.raises(ConfigError) as ei:
        parse_config(data)
    return ei.value.problems


def test_no_path_and_no_env_means_simulator():
    assert load_config(None, env={}) is None
    assert load_config(None, env={"CONFIG": "  "}) is None


def test_yaml_file_and_env_path_and_inline_json(tmp_path):
    f = tmp_path / "c.yml"
    f.write_text(yaml.safe_dump({"bosh": BOSH, "cf": CF, "timeout_scale": 2}))
    c = load_config(f, env={})
    assert c.bosh.url == BOSH["url"] and c.cf.admin_user == "admin"
    assert c.source == str(f)
    assert load_config(None, env={"CONFIG": str(f)}).cf.api == CF["api"]
    j = tmp_path / "c.json"
    j.write_text(json.dumps({"cf": CF}))
    assert load_config(j, env={}).cf.apps_domain == "bosh-lite.com"
    inline = load_config(None, env={"CONFIG": json.dumps({"cf": CF})})
    assert inline.cf.api == CF["api"]


def test_unreadable_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "missing.yml", env={})
    bad = tmp_path / "bad.yml"
    bad.write_text("cf: [unclosed\n")
    with pytest.raises(ConfigError, match="not valid YAML/JSON"):
        load_config(bad, env={})


def test_all_problems_reported_at_once():
    problems = _problems({
        "bosh": {"url": "ftp://x", "username": "a"},
        "cf": {"api": "https://api.x.com", "admin_pasword": "p"},
        "timeout_scale": "fast",
        "timeouts": {"cf_psh": 3},
        "resolve": {"a.com:x": "127.0.0.1:1"},
        "poller": {"workers": 0},
        "upgrade": {"cell_stop": "pause"},
    })
    text = "\n".join(problems)
    assert len(problems) >= 9
    for needle in ("bosh.url", "bosh.password: required", "cf.admin_pasword: unknown key (did you mean 'admin_password'?)",
                   "cf.admin_user: required", "timeout_scale", "timeouts.cf_psh", "did you mean 'cf_push'",
                   "resolve['a.com:x']", "observers.a0_routable.workers", "upgrade.cell_stop"):
        assert needle in text, needle
    err = ConfigError(problems)
    assert str(err).startswith(f"invalid config: {len(problems)} problems")


def test_unknown_top_level_key_has_hint():
    problems = _problems({"cf": CF, "artifact_dir": "x"})
    assert problems == ["artifact_dir: unknown key (did you mean 'artifacts_dir'?)"]


def test_cats_and_dusts_flat_keys_are_mapped():
    c = parse_config({
        "api": "api.bosh-lite.com", "apps_domain": "bosh-lite.com", "admin_user": "admin",
        "admin_password": "pw-cats", "skip_ssl_validation": True, "bosh_target": "192.168.50.4",
        "bosh_admin_user": "admin", "bosh_admin_password": "pw-bosh", "default_timeout": 45,
        "cf_push_timeout": 600, "long_curl_timeout": 30, "artifacts_directory": "out",
        "max_polling_errors": 1, "include_ssh": True,
    })
    assert c.cf.api == "https://api.bosh-lite.com"
    assert c.cf.system_domain == "bosh-lite.com"  # derived from the api host
    assert c.cf.skip_ssl_validation and c.bosh.skip_ssl_validation
    assert c.bosh.url == "https://192.168.50.4:25555"
    assert (c.bosh.username, c.bosh.password) == ("admin", "pw-bosh")
    assert c.timeouts["http_read"] == 45 and c.timeouts["cf_push"] == 600 and c.timeouts["route_ready"] == 30
    assert str(c.artifacts_dir) == "out"
    assert any(w.startswith("max_polling_errors") for w in c.warnings)
    assert any(w.startswith("include_ssh") for w in c.warnings)


def test_alias_conflicting_with_section_key_is_a_problem():
    problems = _problems({"api": "https://a.example.com", "cf": CF})
    assert problems == ["api: conflicts with cf.api (give only one)"]


def test_bosh_credentials_rules():
    assert any("not both" in p for p in _problems({"bosh": {**BOSH, "client": "c", "client_secret": "s"}}))
    assert any("credentials required" in p for p in _problems({"bosh": {"url": "https://d:25555"}}))
    c = parse_config({"bosh": {"url": "https://d:25555", "client": "ci", "client_secret": "sec-xyz"}})
    assert c.bosh.client == "ci" and c.bosh.username is None


def test_ca_as_text_file_relative_to_config_missing_and_invalid(tmp_path, pki):
    c = parse_config({"cf": {**CF, "ca_cert": pki.ca_pem}})
    assert c.cf.ca_cert == pki.ca_pem and c.cf.tls.ca_cert == pki.ca_pem
    (tmp_path / "ca.pem").write_text(pki.ca_pem)
    cfg = tmp_path / "c.yml"
    cfg.write_text(yaml.safe_dump({"cf": {**CF, "ca_cert": "ca.pem"}, "bosh": {**BOSH, "ca_cert": str(pki.ca_file)}}))
    c = load_config(cfg, env={})
    assert c.cf.ca_cert == pki.ca_pem and c.bosh.ca_cert == pki.ca_pem
    problems = _problems({"cf": {**CF, "ca_cert": str(tmp_path / "nope.pem")},
                          "bosh": {**BOSH, "ca_cert": "-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n"}})
    assert len(problems) == 2
    assert any("cannot read CA file" in p and "nope.pem" in p for p in problems)
    assert any("bosh.ca_cert: not a valid PEM certificate" in p for p in problems)


def test_timeouts_by_name_scaled():
    c = parse_config({"cf": CF, "timeout_scale": 2.5, "timeouts": {"cf_staging": 100}})
    assert c.timeout("cf_staging") == 250
    assert c.timeout("bosh_deploy") == TIMEOUT_DEFAULTS["bosh_deploy"] * 2.5
    assert c.effective_timeouts()["ssh"] == TIMEOUT_DEFAULTS["ssh"] * 2.5
    with pytest.raises(KeyError, match="did you mean 'cf_push'"):
        c.timeout("cf_psh")
    assert any("must be > 0" in p for p in _problems({"cf": CF, "timeouts": {"ssh": -1}}))


def test_resolve_map_validated_and_non_loopback_warned():
    c = parse_config({"cf": CF, "resolve": {"*.bosh-lite.com:443": "127.0.0.1:4443",
                                            "10.244.0.0/16": "127.37.0.0/16",
                                            "ssh.bosh-lite.com:2222": "10.0.0.5:2222"}})
    assert c.resolver().resolve("api.bosh-lite.com", 443) == ("127.0.0.1", 4443)
    assert c.resolver().resolve("10.244.2.2", 6379) == ("127.37.2.2", 6379)
    assert any("10.0.0.5" in w for w in c.warnings)
    assert not c.loopback_only
    problems = _problems({"cf": CF, "resolve": {"10.244.0.0/16": "127.37.0.0/24", "x": "y"}})
    assert len(problems) == 2


def test_sections_defaults_and_values():
    c = parse_config({"cf": CF, "upgrade": {"deployment_prefix": "cf-x", "versions": {"v0": "v0.yml"},
                                             "stubs": ["a.yml"], "cell_stop": "delete"},
                      "observers": {"a0_routable": {"interval": 0.2, "policy": {"cf": {"enforce": False}}},
                                    "push": {"enabled": False}},
                      "promotion": {"store": "s3://bucket/p", "s3": {"endpoint_url": "http://127.0.0.1:9000",
                                                                     "secret_access_key": "s3-secret-1"},
                                    "environments": {"dev1": {"director_uuid": "u"}}}})
    assert c.upgrade.versions == {"v0": "v0.yml", "v_prime": "v_prime"}
    assert c.upgrade.stubs == ("a.yml",) and c.upgrade.cell_stop == "delete"
    assert c.observers["a0_routable"]["interval"] == 0.2 and c.observers["push"] == {"enabled": False}
    assert c.observers["a0_routable"]["policy"]["cf"] == {"enforce": False, "max_outage": 0.0}
    assert c.promotion.s3.endpoint_url == "http://127.0.0.1:9000" and c.promotion.s3.region is None
    assert c.promotion.environments["dev1"].director_uuid == "u"
    assert c.promotion.allowed_diff_paths is None  # gate policy is the ledger's unless the config states it


def test_promotion_environment_with_its_own_director():
    c = parse_config({"cf": CF, "promotion": {"environments": {"dev1": {
        "deployment": "redis-dev1", "bosh": {"url": "https://10.0.0.6", "username": "u", "password": "dev-pw-1"}}}}})
    env = c.promotion.environments["dev1"]
    assert (env.deployment, env.bosh.url, env.bosh.username) == ("redis-dev1", "https://10.0.0.6:25555", "u")
    assert "dev-pw-1" not in str(c.redacted())
    problems = _problems({"cf": CF, "promotion": {"environments": {"qa": {}, "dev2": {"bosh": {"url": "https://x"}}}}})
    assert any("promotion.environments.qa: unknown environment" in p for p in problems)
    assert any("promotion.environments.dev2.bosh: credentials required" in p for p in problems)
    assert any("promotion.s3.bucket: unknown key" in p
               for p in _problems({"cf": CF, "promotion": {"s3": {"bucket": "b"}}}))


def test_neither_bosh_nor_cf_is_a_problem():
    assert any("neither bosh nor cf" in p for p in _problems({"timeout_scale": 1}))


def test_frozen_and_redacted_hides_every_secret(pki):
    c = parse_config({"bosh": BOSH, "cf": {**CF, "ca_cert": pki.ca_pem},
                      "promotion": {"s3": {"access_key_id": "AKIA-test", "secret_access_key": "s3-secret-2"}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        c.cf.api = "x"  # type: ignore[misc]
    text = json.dumps(c.redacted())
    for secret in ("bosh-pw-123", "cf-pw-456", "s3-secret-2", "AKIA-test", "BEGIN CERTIFICATE"):
        assert secret not in text
    assert c.redacted()["cf"]["ca_cert"] == "<PEM: 1 certificate>"
    assert c.redacted()["effective_timeouts"]["cf_push"] == TIMEOUT_DEFAULTS["cf_push"]


def test_config_error_text_never_contains_passwords():
    with pytest.raises(ConfigError) as ei:
        parse_config({"cf": {**CF, "admin_password": "leaky-pw-789"}, "bosh": {**BOSH, "url": "leaky-pw-789://x"}})
    text = str(ei.value)
    assert "bosh.url: URL scheme must be http or https" in text
    assert "leaky-pw-789" not in text and "[REDACTED]" in text


def test_simulator_shaped_config_round_trips(tmp_path, pki):
    """The simulator writes YAML with a literal-block PEM, explicit nulls and a CIDR entry."""
    doc = {"bosh": {**BOSH, "ca_cert": pki.ca_pem, "skip_ssl_validation": False, "client": None,
                    "client_secret": None},
           "cf": {**CF, "system_domain": "bosh-lite.com", "ca_cert": pki.ca_pem, "skip_ssl_validation": False},
           "resolve": {"192.168.50.4:25555": "127.0.0.1:40001", "*.bosh-lite.com:443": "127.0.0.1:40002",
                       "10.244.0.0/16": "127.37.0.0/16"}}
    f = tmp_path / "sim.yml"
    f.write_text(yaml.safe_dump(doc, default_style=None))
    c = load_config(f, env={})
    assert c.bosh.ca_cert == pki.ca_pem and c.bosh.client is None
    assert c.warnings == ()
    assert c.resolver().resolve("192.168.50.4", 25555) == ("127.0.0.1", 40001)


def test_observers_are_checked_against_the_registry_with_every_other_problem():
    known = {"a0_routable": ["interval", "workers"], "push": ["interval", "attempt_timeout"]}
    with pytest.raises(ConfigError) as info:
        parse_config({"cf": CF, "timeouts": {"cf_psh": 3},
                      "observers": {"a0_routabel": {}, "push": {"intervall": 1, "policy": {"diego": {"enforc": 1}}},
                                    "a0_routable": {"interval": -1, "enabled": "maybe"}}}, observers=known)
    text = str(info.value)
    for needle in ("timeouts.cf_psh", "observers.a0_routabel: unknown measurement (did you mean 'a0_routable'?)",
                   "observers.push.intervall: unknown option (did you mean 'interval'?)",
                   "observers.push.policy.diego.enforc: unknown key", "observers.a0_routable.interval: must be > 0",
                   "observers.a0_routable.enabled: expected true or false"):
        assert needle in text, needle


def test_poller_is_read_as_the_a0_routable_observer():
    c = parse_config({"cf": CF, "poller": {"interval": 0.5, "policy": {"upgrade CF": {"enforce": True}}}},
                     observers={"a0_routable": ["interval"]})
    assert c.observers["a0_routable"]["interval"] == 0.5
    assert c.observers["a0_routable"]["policy"]["upgrade CF"]["enforce"] is True
    assert any("poller: read as observers.a0_routable" in w for w in c.warnings)
    with pytest.raises(ConfigError, match=re.escape("poller: the older name of observers.a0_routable; give only one")):
        parse_config({"cf": CF, "poller": {}, "observers": {"a0_routable": {}}})
