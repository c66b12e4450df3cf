"""HAProxy's TLS comes from what is deployed (simulator/router/front.py HaproxyTls), as in
cf-release v220/v231 jobs/haproxy: `ha_proxy.ssl_pem` served on the TLS frontend, none without
it, TLS 1.0 to 1.2, `ha_proxy.ssl_ciphers` (default per cf-release version)."""

from __future__ import annotations

import socket
import ssl
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from helpers.net import pem_certificates
from manifests import secrets
from simulator.router import Router, attach
from simulator.router.front import HaproxyTlsError
from simulator.world import InstanceView, World
from tests.world_doubles import BusDirector, RecordingLogs, make_world


@pytest.fixture(scope="module")
def pems() -> list[dict[str, Any]]:
    """Two generated HAProxy CAs and certificates for *.bosh-lite.com."""
    return [secrets.complete({}, "bosh-lite.com")[0] for _ in range(2)]


class Front:
    def __init__(self, world: World, director: BusDirector, router: Router, haproxy: InstanceView) -> None:
        self.world, self.director, self.router, self.haproxy = world, director, router, haproxy

    def address(self, port: int) -> tuple[str, int]:
        host, bound = self.world.published[f"*.bosh-lite.com:{port}"].rsplit(":", 1)
        return host, int(bound)

    def handshake(self, ctx: ssl.SSLContext | None = None, port: int = 443) -> ssl.SSLSocket:
        raw = socket.create_connection(self.address(port), timeout=5)
        try:
            # an explicit handshake: wrap_socket() skips it silently when the peer has already
            # reset the connection (getpeername fails), which is what "no frontend" looks like
            conn = (ctx or client()).wrap_socket(raw, server_hostname="api.bosh-lite.com",
                                                 do_handshake_on_connect=False)
            conn.do_handshake()
            return conn
        except BaseException:
            raw.close()
            raise

    def served_pem(self, port: int = 443) -> str:
        with self.handshake(port=port) as conn:
            der = conn.getpeercert(binary_form=True)
        assert der is not None
        return ssl.DER_cert_to_PEM_cert(der)

    def redeploy(self, properties: dict[str, Any]) -> None:
        """What a deploy that changes the haproxy job's properties does: stop, new spec, start."""
        self.director.stop(self.haproxy)
        self.haproxy.properties = properties
        self.director.start(self.haproxy)


def client(ciphers: str = "ALL:@SECLEVEL=0", **versions: ssl.TLSVersion) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    ctx.set_ciphers(ciphers)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        for attr, value in versions.items():
            setattr(ctx, attr, value)
    return ctx


@pytest.fixture
def front(tmp_path: Path, pems: list[dict[str, Any]]) -> Iterator[Front]:
    world = make_world(tmp_path)
    world.components["logs"] = RecordingLogs()
    director = BusDirector(world)
    director.add("cf-warden", "router_z1", ["gorouter"])
    attach(world)
    haproxy = director.add("cf-warden", "ha_proxy_z1", ["haproxy"],
                           properties={"ha_proxy": {"ssl_pem": pems[0]["ha_proxy_ssl_pem"]}})
    router: Router = world.components["router"]
    yield Front(world, director, router, haproxy)
    router.close()


def _leaf(ssl_pem: str) -> str:
    return pem_certificates(ssl_pem)[0]


def test_the_deployed_certificate_is_served_and_follows_a_redeploy(front, pems):
    assert front.served_pem() == _leaf(pems[0]["ha_proxy_ssl_pem"])
    front.redeploy({"ha_proxy": {"ssl_pem": pems[1]["ha_proxy_ssl_pem"]}})
    assert front.served_pem() == _leaf(pems[1]["ha_proxy_ssl_pem"])
    verified = ssl.create_default_context(cadata=pems[1]["ha_proxy_ca_cert"])
    with front.handshake(verified) as conn:
        assert conn.version() == "TLSv1.2"


def test_both_tls_frontends_present_the_deployed_certificate(front, pems):
    """`frontend https-in` (:443) and `frontend ssl-in` (:4443) both `bind ... ssl crt` the
    same cert.pem."""
    assert front.served_pem(443) == front.served_pem(4443) == _leaf(pems[0]["ha_proxy_ssl_pem"])


@pytest.mark.parametrize("absent", [{}, {"ha_proxy": {}}, {"ha_proxy": {"ssl_pem": None}},
                                    {"ha_proxy": {"ssl_pem": False}}])
def test_without_ssl_pem_there_is_no_https_at_all(front, absent):
    """haproxy.conf.erb renders the :443/:4443 frontends only `if p("ha_proxy.ssl_pem")`."""
    front.redeploy(absent)
    for port in (443, 4443):
        with pytest.raises((ssl.SSLError, ConnectionError, OSError)) as err:
            front.handshake(port=port)
        assert not isinstance(err.value, ssl.SSLCertVerificationError)
    host, port = front.address(80)
    assert requests.get(f"http://{host}:{port}/", headers={"Host": "nobody.bosh-lite.com"}, timeout=3).status_code == 404


@pytest.mark.parametrize("bad", ["", "not a certificate", 12345])
def test_a_set_but_unusable_ssl_pem_fails_the_haproxy_instance(front, pems, bad):
    """Ruby truthiness: even "" renders the frontend, and haproxy cannot load it at start."""
    front.director.stop(front.haproxy)
    front.haproxy.properties = {"ha_proxy": {"ssl_pem": bad}}
    with pytest.raises(HaproxyTlsError) as err:
        front.director.start(front.haproxy)
    assert "ha_proxy.ssl_pem" in str(err.value)
    assert "PRIVATE KEY" not in str(err.value)


def test_the_certificate_and_key_file_is_owner_only(front):
    files = list((Path(front.world.state_dir) / "haproxy-tls").glob("*.pem"))
    assert files, "haproxy's crt file was not written"
    for path in files:
        assert path.stat().st_mode & 0o077 == 0


def test_tls_1_3_is_not_offered_and_1_0_to_1_2_are(front):
    with pytest.raises(ssl.SSLError):
        front.handshake(client(minimum_version=ssl.TLSVersion.TLSv1_3))
    for version, cipher in ((ssl.TLSVersion.TLSv1_2, "ECDHE-RSA-AES128-GCM-SHA256"),
                            (ssl.TLSVersion.TLSv1_1, "AES128-SHA"), (ssl.TLSVersion.TLSv1, "AES128-SHA")):
        with front.handshake(client(minimum_version=version, maximum_version=version)) as conn:
            assert conn.version() == version.name.replace("_", ".")
            assert conn.cipher()[0] == cipher


def test_the_default_cipher_list_offers_what_openssl_made_of_it(front):
    """`ECDHE-RSA-AES128-CBC-SHA` and its three siblings in the spec default are not OpenSSL
    names: OpenSSL skips them, so the era's HAProxy offered no ECDHE-CBC suite at all."""
    for missing in ("ECDHE-RSA-AES128-SHA", "ECDHE-RSA-AES256-SHA", "ECDHE-RSA-AES128-SHA256",
                    "ECDHE-RSA-AES256-SHA384", "AES256-SHA", "DES-CBC3-SHA"):
        with pytest.raises(ssl.SSLError):
            front.handshake(client(f"{missing}:@SECLEVEL=0", maximum_version=ssl.TLSVersion.TLSv1_2))
    for offered in ("ECDHE-RSA-AES256-GCM-SHA384", "AES128-SHA256", "AES128-SHA"):
        with front.handshake(client(f"{offered}:@SECLEVEL=0", maximum_version=ssl.TLSVersion.TLSv1_2)) as conn:
            assert conn.cipher()[0] == offered


def test_deployed_ssl_ciphers_replace_the_default(front, pems):
    front.redeploy({"ha_proxy": {"ssl_pem": pems[0]["ha_proxy_ssl_pem"], "ssl_ciphers": "AES256-SHA"}})
    with pytest.raises(ssl.SSLError):
        front.handshake(client("AES128-SHA:@SECLEVEL=0", maximum_version=ssl.TLSVersion.TLSv1_2))
    with front.handshake(client("AES256-SHA:@SECLEVEL=0", maximum_version=ssl.TLSVersion.TLSv1_2)) as conn:
        assert conn.cipher()[0] == "AES256-SHA"


def test_a_null_ssl_ciphers_takes_the_default_and_an_empty_one_fails_the_instance(front, pems):
    """The spec default replaces only an absent or null property; `ciphers ` with an empty
    value (haproxy.conf.erb at v220) stops haproxy from starting."""
    front.redeploy({"ha_proxy": {"ssl_pem": pems[0]["ha_proxy_ssl_pem"], "ssl_ciphers": None}})
    with front.handshake(client("AES128-SHA:@SECLEVEL=0", maximum_version=ssl.TLSVersion.TLSv1_2)) as conn:
        assert conn.cipher()[0] == "AES128-SHA"
    front.director.stop(front.haproxy)
    front.haproxy.properties = {"ha_proxy": {"ssl_pem": pems[0]["ha_proxy_ssl_pem"], "ssl_ciphers": ""}}
    with pytest.raises(HaproxyTlsError) as err:
        front.director.start(front.haproxy)
    assert "ha_proxy.ssl_ciphers" in str(err.value)


def test_an_era_look_alike_certificate_is_served_as_deployed(front):
    """A user stub may deploy the era's SHA-1, SAN-less v1 certificate: HAProxy (security level
    0 on the server side) serves it as it is."""
    from tests.tls_lookalikes import haproxy_v231

    look = haproxy_v231()
    front.redeploy({"ha_proxy": {"ssl_pem": look.ssl_pem}})
    assert front.served_pem() == look.cert_pem
