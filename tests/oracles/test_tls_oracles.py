"""The real clients against the simulator's era TLS, inside a private host.

* bosh CLI v7.1.2 (Go 1.19) and the 2015 director's SHA-1 certificate: refused unless Go's
  `GODEBUG=x509sha1=1` is set; with it, verified against `BOSH_CA_CERT` (and only that CA).
* cf CLI v6.53.0 and curl against the HAProxy certificate the generated CF manifest deploys:
  refused without its CA, accepted with `--skip-ssl-validation` or with the CA; TLS 1.3 is not
  offered. Only TLS-level outcomes are asserted here (what cf does after the handshake is
  the CC's business).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from manifests.generate import generate
from simulator import tls
from simulator.launcher import REPO_ROOT

pytestmark = pytest.mark.slow
API = "https://api.bosh-lite.com"
GO_SHA1 = 'x509: cannot verify signature: insecure algorithm SHA1-RSA (temporarily override with GODEBUG=x509sha1=1)'
TLS_FAILURES = ("x509", "Invalid SSL Cert", "certificate")

DEPLOY = """
import sys
from helpers.bosh import Director
from helpers.config import load_config
config = load_config(sys.argv[1])
result = Director(config.bosh, config.resolver()).deploy(open(sys.argv[2]).read())
print(result.state)
"""


@pytest.fixture(scope="module")
def env(oracle_env) -> Any:
    return oracle_env(preload=("v0",))


@pytest.fixture(scope="module")
def deployed(env, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The generated V0 CF manifest deployed through the director (from inside the namespace),
    and the HAProxy CA of its secrets file."""
    out = tmp_path_factory.mktemp("tls-oracle")
    info = json.loads(env.bosh("env", "--json").stdout)
    uuid = info["Tables"][0]["Rows"][0]["uuid"]
    paths = generate("v0", director_uuid=uuid, out=out / "v0", secrets_file=out / "secrets.yml",
                     cf_admin_user=env.config["cf"]["admin_user"],
                     cf_admin_password=env.config["cf"]["admin_password"])
    result = env.host.run([sys.executable, "-c", DEPLOY, str(env.sim.config_path), str(paths["cf"])],
                          cwd=REPO_ROOT, timeout=300)
    assert result.stdout.strip() == "done", result.describe()
    stored = yaml.safe_load((out / "secrets.yml").read_text())
    ca = out / "haproxy-ca.pem"
    ca.write_text(stored["ha_proxy_ca_cert"])
    leaf = out / "haproxy.pem"
    leaf.write_text(stored["ha_proxy_ssl_pem"].split("-----END CERTIFICATE-----")[0] + "-----END CERTIFICATE-----\n")
    return {"ca": ca, "leaf": leaf}


def test_bosh_cli_refuses_the_sha1_director_certificate_as_go_does(env):
    result = env.bosh("env", env={"GODEBUG": None})
    assert result.returncode != 0
    assert GO_SHA1 in result.output, result.describe()


def test_bosh_cli_verifies_it_against_bosh_ca_cert_with_godebug(env, tmp_path: Path):
    ok = env.bosh("env")
    assert ok.returncode == 0, ok.describe()
    assert "Bosh Lite Director" in ok.stdout
    impostor = tls.generate(tmp_path)  # same names, another key: the CA is really checked
    wrong = env.bosh("env", env={"BOSH_CA_CERT": str(impostor.ca_path)})
    assert wrong.returncode != 0
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
    assert result.returncode != 0
    assert "Invalid SSL Cert for https://api.bosh-lite.com/v2/info" in result.output, result.describe()
    assert "--skip-ssl-validation" in result.output


@pytest.mark.parametrize("how", ["skip-ssl-validation", "SSL_CERT_FILE"])
def test_cf_cli_gets_past_tls_with_skip_or_with_the_ca(env, deployed, how):
    if how == "skip-ssl-validation":
        result = env.cf("api", API, "--skip-ssl-validation")
    else:
        result = env.cf("api", API, env={"SSL_CERT_FILE": str(deployed["ca"])})
    assert f"Setting api endpoint to {API}..." in result.stdout, result.describe()
    assert not any(word in result.output for word in TLS_FAILURES), result.describe()
