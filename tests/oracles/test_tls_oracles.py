"""The real clients against the simulator's era TLS, inside a private host.

* bosh CLI v7.1.2 (Go 1.19) and the 2015 director's SHA-1 certificate: refused unless Go's
  `GODEBUG=x509sha1=1` is set; with it, verified against `BOSH_CA_CERT` (and only that CA).
* cf CLI v6.53.0 and curl against the HAProxy certificate the generated CF manifest deploys:
  refused without its CA, accepted with `--skip-ssl-validation` or with the CA; TLS 1.3 is not
  offered. Only TLS-level outcomes are asserted here (what cf does after the handshake is
  the CC's business).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from simulator import tls
from tests.oracles.cf_session import TRACE, exchanges

pytestmark = pytest.mark.slow
API = "https://api.bosh-lite.com"
GO_SHA1 = 'x509: cannot verify signature: insecure algorithm SHA1-RSA (temporarily override with GODEBUG=x509sha1=1)'
TLS_FAILURES = ("x509", "Invalid SSL Cert", "certificate")


@pytest.fixture(scope="module")
def env(oracle_env) -> Any:
    return oracle_env(preload=("v0",))


@pytest.fixture(scope="module")
def deployed(env, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated V0 CF manifest deployed through the director (from inside the namespace),
    and the HAProxy CA of its secrets file."""
    out = tmp_path_factory.mktemp("tls-oracle")
    result = env.python("tests.oracles.deploy_set", str(env.sim.config_path), str(out), "v0", "cf")
    assert result.returncode == 0, result.describe()
    stored = yaml.safe_load((out / "secrets.yml").read_text())
    ca = out / "haproxy-ca.pem"
    ca.write_text(stored["ha_proxy_ca_cert"])
    leaf = out / "haproxy.pem"
    leaf.write_text(stored["ha_proxy_ssl_pem"].split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    return {"ca": ca, "leaf": leaf}


def test_bosh_cli_refuses_the_sha1_director_certificate_as_go_does(env):
    result = env.bosh("env", env={"GODEBUG": None})
    assert result.returncode != 0, result.describe()
    assert GO_SHA1 in result.output, result.describe()


def test_bosh_cli_verifies_it_against_bosh_ca_cert_with_godebug(env, tmp_path: Path):
    ok = env.bosh("env")
    assert ok.returncode == 0, ok.describe()
    assert "Bosh Lite Director" in ok.stdout
    impostor = tls.generate(tmp_path)  # same names, another key: the CA is really checked
    wrong = env.bosh("env", env={"BOSH_CA_CERT": str(impostor.ca_path)})
    assert wrong.returncode != 0, wrong.describe()
    assert "x509: certificate signed by unknown authority" in wrong.output, wrong.describe()


def test_curl_verifies_the_deployed_haproxy_certificate_with_its_ca(env, deployed):
    read = env.host.run(["sh", "-c", "openssl s_client -connect api.bosh-lite.com:443 -servername "
                         "api.bosh-lite.com </dev/null 2>/dev/null | openssl x509"])
    assert read.stdout == deployed["leaf"].read_text(), read.describe()
    ok = env.host.run(["curl", "-sS", "--cacert", str(deployed["ca"]), "-o", "/dev/null", "-w",
                       "%{http_code} %{ssl_verify_result}", f"{API}/v2/info"])
    assert ok.returncode == 0 and ok.stdout.endswith(" 0"), ok.describe()
    refused = env.host.run(["curl", "-sS", "-o", "/dev/null", f"{API}/v2/info"])
    assert refused.returncode == 60 and "unable to get local issuer certificate" in refused.stderr, refused.describe()


def test_haproxy_speaks_tls_1_2_and_not_1_3(env, deployed):
    twelve = env.host.run(["curl", "-sS", "--cacert", str(deployed["ca"]), "--tls-max", "1.2", "-o", "/dev/null",
                           "-w", "%{http_code}", f"{API}/v2/info"])
    assert twelve.returncode == 0, twelve.describe()
    thirteen = env.host.run(["curl", "-sS", "--cacert", str(deployed["ca"]), "--tlsv1.3", "-o", "/dev/null",
                             f"{API}/v2/info"])
    assert thirteen.returncode == 35, thirteen.describe()  # CURLE_SSL_CONNECT_ERROR: no TLS 1.3 handshake


def test_cf_cli_refuses_the_haproxy_certificate_without_its_ca(env, deployed):
    result = env.cf("api", API)
    assert result.returncode != 0, result.describe()
    assert "Invalid SSL Cert for https://api.bosh-lite.com/v2/info" in result.output, result.describe()
    assert "--skip-ssl-validation" in result.output


@pytest.mark.parametrize("how", ["skip-ssl-validation", "SSL_CERT_FILE"])
def test_cf_cli_gets_past_tls_with_skip_or_with_the_ca(env, deployed, how):
    if how == "skip-ssl-validation":
        result = env.cf("api", API, "--skip-ssl-validation", env=TRACE)
    else:
        result = env.cf("api", API, env={**TRACE, "SSL_CERT_FILE": str(deployed["ca"])})
    assert f"Setting api endpoint to {API}..." in result.stdout, result.describe()
    assert not any(word in result.output for word in TLS_FAILURES), result.describe()
    # an HTTP answer over that connection: the handshake completed (not some earlier failure)
    answered = [(url, status) for _, url, status, _ in exchanges(result.stdout) if status is not None]
    assert ("api.bosh-lite.com/v2/info", 200) in answered, result.describe()
