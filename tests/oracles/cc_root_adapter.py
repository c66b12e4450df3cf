"""A stand-in for cf CLI 6.53's discovery requirement, NOT a claim about the era.

cf CLI 6.53 calls `GET /` on the API host whenever it targets (ccv2 `TargetCF` ->
`RootResponse`, api/cloudcontroller/ccv2/target.go:45-53, info.go:110-127) and, for commands
built on the v3 client, follows `links.cloud_controller_v3.href` to `GET /v3` (ccv3 `GetInfo`,
api/cloudcontroller/ccv3/info.go:113-130). The Cloud Controllers of cf v220 and v231 answer
both with their 404 (`CF-NotFound`, "Unknown request"), so against a real CF of that era the
CLI cannot even target. To still let the real CLI judge the simulator's v2/v3 contracts, this
proxy sits in front of the API host inside the test's private host and answers exactly those
two requests; everything else is forwarded untouched to HAProxy.

What it answers is derived from what the era CC serves: `GET /` links built from the CC's own
`/v2/info` (v2 href and its api_version, uaa/login, doppler, routing, app_ssh) with **no
log-cache** and no network policy/credhub/bits links, and `GET /v3` links naming only v3
resources the era CC had (apps, processes, packages, droplets), with `cloud_controller_v3`
version 3.0.0 (the era's v3 was unversioned and experimental: the lowest version keeps the
CLI on its oldest code paths).

Usage (inside the namespace): `cc_root_adapter.py LISTEN_ADDR UPSTREAM_ADDR LOG_FILE`. It
prints `ready` once listening; every request is appended to LOG_FILE as one JSON line
`{"method", "path", "answered": "adapter"|"upstream", "status"}`. Standard library only.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import ssl
import sys
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

HOP = {"connection", "keep-alive", "proxy-connection", "transfer-encoding", "te", "trailer", "upgrade",
       "content-length"}
V3_RESOURCES = ("apps", "processes", "packages", "droplets")  # cloud_controller_ng@64d935a app/controllers/v3


def self_signed(workdir: Path) -> tuple[Path, Path]:
    """A throw-away certificate for the API host (the CLI runs with --skip-ssl-validation, as
    BOSH-Lite's own instructions did). `cryptography` is a project dependency."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "api.bosh-lite.com")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(days=1))
            .not_valid_after(now + dt.timedelta(days=2))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("api.bosh-lite.com")]), critical=False)
            .sign(key, hashes.SHA256()))
    cert_file, key_file = workdir / "adapter.crt", workdir / "adapter.key"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    return cert_file, key_file


class Adapter(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: AdapterServer

    def log_message(self, *args: object) -> None:
        pass

    def _record(self, answered: str, status: int) -> None:
        with self.server.lock, open(self.server.log_file, "a") as fh:
            fh.write(json.dumps({"method": self.command, "path": self.path, "answered": answered,
                                 "status": status}) + "\n")

    def _upstream(self, method: str, path: str, body: bytes | None, headers: dict[str, str]
                  ) -> tuple[int, list[tuple[str, str]], bytes]:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
        conn = http.client.HTTPSConnection(*self.server.upstream, context=ctx, timeout=60)
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, resp.getheaders(), resp.read()
        finally:
            conn.close()

    def _send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        self.send_response_only(status)
        for k, v in headers:
            if k.lower() not in HOP:
                self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, doc: dict) -> None:
        self._send(200, [("Content-Type", "application/json")], json.dumps(doc).encode())

    def _dispatch(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else None
        host = self.headers.get("Host", "api.bosh-lite.com")
        base = f"https://{host.split(':')[0]}"
        if self.command == "GET" and self.path.split("?")[0] in ("/", "/v3", "/v3/"):
            if self.path.split("?")[0] == "/":
                status, _, raw = self._upstream("GET", "/v2/info", None, {"Host": host, "Accept": "application/json"})
                info = json.loads(raw) if status == 200 else {}
                self._json(root_links(base, info))
            else:
                self._json({"links": {"self": {"href": f"{base}/v3"},
                                      **{r: {"href": f"{base}/v3/{r}"} for r in V3_RESOURCES}}})
            self._record("adapter", 200)
            return
        headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
        status, out, raw = self._upstream(self.command, self.path, body, headers)
        self._send(status, out, raw)
        self._record("upstream", status)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = do_HEAD = _dispatch


def root_links(base: str, info: dict) -> dict:
    """The root document 6.53 parses (ccv3 InfoLinks, ccv2 Info.Links.LogCache), from the era
    CC's own /v2/info, and nothing the era lacked."""
    ssh = None
    if info.get("app_ssh_endpoint"):
        ssh = {"href": info["app_ssh_endpoint"],
               "meta": {"host_key_fingerprint": info.get("app_ssh_host_key_fingerprint"),
                        "oauth_client": info.get("app_ssh_oauth_client")}}
    links = {
        "self": {"href": base},
        "cloud_controller_v2": {"href": f"{base}/v2", "meta": {"version": info.get("api_version")}},
        "cloud_controller_v3": {"href": f"{base}/v3", "meta": {"version": "3.0.0"}},
        "uaa": {"href": info.get("token_endpoint")},
        "login": {"href": info.get("authorization_endpoint")},
        "routing": {"href": info.get("routing_endpoint")} if info.get("routing_endpoint") else None,
        "logging": {"href": info.get("doppler_logging_endpoint")} if info.get("doppler_logging_endpoint") else None,
        "app_ssh": ssh,
    }
    return {"links": links}


class AdapterServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, listen: tuple[str, int], upstream: tuple[str, int], log_file: str) -> None:
        super().__init__(listen, Adapter)
        self.upstream = upstream
        self.log_file = log_file
        self.lock = threading.Lock()


def _addr(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    return host, int(port)


def main(argv: list[str]) -> None:
    listen, upstream, log_file = argv
    server = AdapterServer(_addr(listen), _addr(upstream), log_file)
    cert, key = self_signed(Path(tempfile.mkdtemp(prefix="cc-root-adapter-")))
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    server.socket = ctx.wrap_socket(server.socket, server_side=True)
    print("ready", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
