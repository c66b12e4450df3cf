"""The simulator's ssh proxy offers on the wire exactly what the Diego ssh proxy of its diego
release offered, judged against the real 2015 Go SSH server (the era-sshd oracle built with
the x/crypto commit that release pinned) and against real clients:

* the KEXINIT name-lists and the identification line, read from the socket by an
  independent parser (tests/ssh/wire.py), equal the oracle's, for diego 0.1434.0 (x/crypto
  c57d4a7) and 0.1454.0 (c8b9e63);
* a `none` authentication probe is refused listing only `password`, as by the oracle;
* a client that offers no `ssh-rsa` (paramiko restricted to rsa-sha2-*, OpenSSH 9 defaults)
  cannot complete the handshake, exactly as against the oracle; OpenSSH with
  `HostKeyAlgorithms=+ssh-rsa` can, and runs commands with a terminal when asked;
* every key exchange, cipher and MAC offered completes a session with OpenSSH, and the two
  RC4 ciphers OpenSSH no longer has are checked against RC4 written out in the test.
"""

from __future__ import annotations

import os
import shutil
import stat
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paramiko
import pytest

from simulator.sshproxy import ERAS
from simulator.sshproxy.transport import ARCFOUR_CIPHERS, ARCFOUR_DISCARD, arcfour_engine
from tests.oracles.era_sshd import COMMIT_OF_DIEGO, EraSshd, era_sshd
from tests.ssh.rig import HOST_KEY, SshRig, pem, running_rig
from tests.ssh.wire import read_server_hello

pytestmark = pytest.mark.slow

ORACLE_USER, ORACLE_PASSWORD = "cf:0c1a4c6e-era-sshd/0", "oracle-test-password"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshRig]:
    with running_rig(tmp_path_factory.mktemp("ssh-wire")) as r:
        yield r


@dataclass
class Pair:
    """The simulator's proxy as of `diego` and the oracle of the same x/crypto commit."""

    diego: str
    rig: SshRig
    oracle: EraSshd


@pytest.fixture(params=sorted(ERAS))
def pair(request: pytest.FixtureRequest, rig: SshRig) -> Iterator[Pair]:
    diego = request.param
    with era_sshd(COMMIT_OF_DIEGO[diego], user=ORACLE_USER, password=ORACLE_PASSWORD,
                  host_key_pem=pem(HOST_KEY)) as oracle, rig.diego(diego):
        yield Pair(diego, rig, oracle)


def test_kexinit_and_identification_equal_the_era_servers(pair: Pair) -> None:
    ours = read_server_hello(*pair.rig.endpoint())
    theirs = read_server_hello(pair.oracle.host, pair.oracle.port)
    assert ours.identification == theirs.identification == "SSH-2.0-Go"
    for name in theirs.lists:
        assert ours.lists[name] == theirs.lists[name], (
            f"diego {pair.diego}: the simulator's {name} list differs from x/crypto {pair.oracle.commit}'s:\n"
            f"  simulator: {', '.join(ours.lists[name])}\n  era:       {', '.join(theirs.lists[name])}")
    assert (ours.first_kex_packet_follows, ours.reserved) == (theirs.first_kex_packet_follows, theirs.reserved)
    # and these are the era's facts, not two equal mistakes
    era = ERAS[pair.diego]
    assert (theirs.lists["kex"], theirs.lists["ciphers_c2s"], theirs.lists["macs_s2c"]) == (era.kex, era.ciphers,
                                                                                          era.macs)
    assert theirs.lists["host_key"] == ("ssh-rsa",)
    assert not [n for n in ours.lists["kex"] if n.startswith(("kex-strict-", "ext-info-"))]


def test_the_two_releases_differ_where_x_crypto_did(rig: SshRig) -> None:
    lists = {}
    for diego in ("0.1434.0", "0.1454.0"):
        with rig.diego(diego):
            lists[diego] = read_server_hello(*rig.endpoint()).lists
    assert lists["0.1434.0"]["macs_c2s"] == ("hmac-sha1", "hmac-sha1-96")
    assert lists["0.1454.0"]["macs_c2s"] == ("hmac-sha2-256", "hmac-sha1", "hmac-sha1-96")
    assert "curve25519-sha256@libssh.org" not in lists["0.1434.0"]["kex"]
    assert lists["0.1454.0"]["kex"][0] == "curve25519-sha256@libssh.org"


def _none_auth_methods(host: str, port: int, user: str) -> list[str]:
    transport = paramiko.Transport((host, port))
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.BadAuthenticationType) as refused:
            transport.auth_none(user)
        assert not transport.is_authenticated()
        return list(refused.value.allowed_types)
    finally:
        transport.close()


def test_none_auth_is_refused_listing_only_password(pair: Pair) -> None:
    ours = _none_auth_methods(*pair.rig.endpoint(), pair.rig.user())
    theirs = _none_auth_methods(pair.oracle.host, pair.oracle.port, ORACLE_USER)
    assert ours == theirs == ["password"]


def _handshake_error(host: str, port: int) -> str:
    transport = paramiko.Transport((host, port), disabled_algorithms={"keys": ["ssh-rsa"]})
    try:
        with pytest.raises(paramiko.SSHException) as refused:
            transport.start_client(timeout=10)
        return str(refused.value)
    finally:
        transport.close()


def test_a_client_without_ssh_rsa_cannot_connect(pair: Pair) -> None:
    """paramiko offering only rsa-sha2-512/256 (and ed25519/ecdsa): no rsa-sha2 leaks."""
    ours = _handshake_error(*pair.rig.endpoint())
    theirs = _handshake_error(pair.oracle.host, pair.oracle.port)
    assert ours == theirs
    assert "no acceptable host key" in ours


# ------------------------------------------------------------------ OpenSSH's client


@dataclass
class OpenSsh:
    """Debian's `ssh`, password from SSH_ASKPASS, pinned to one host key, no user config."""

    binary: str
    workdir: Path

    def run(self, host: str, port: int, user: str, password: str, command: str, *options: str,
            timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        secret = self.workdir / "password"
        secret.write_text(password)
        askpass = self.workdir / "askpass"
        askpass.write_text(f"#!/bin/sh\ncat {secret}\n")
        askpass.chmod(stat.S_IRWXU)
        known_hosts = self.workdir / "known_hosts"
        known_hosts.write_text(f"[{host}]:{port} ssh-rsa {HOST_KEY.get_base64()}\n")
        argv = [self.binary, "-F", "/dev/null", "-p", str(port), "-l", user,
                "-o", f"UserKnownHostsFile={known_hosts}", "-o", "GlobalKnownHostsFile=/dev/null",
                "-o", "StrictHostKeyChecking=yes", "-o", "PubkeyAuthentication=no",
                "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
                "-o", "ConnectTimeout=10", *options, host, command]
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": str(self.workdir),
               "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
        return subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              timeout=timeout, check=False)


@pytest.fixture
def openssh(tmp_path: Path) -> OpenSsh:
    binary = shutil.which("ssh")
    assert binary, "OpenSSH's `ssh` client is needed (Debian: apt-get install openssh-client; .ci/run does)"
    return OpenSsh(binary, tmp_path)


def test_openssh_defaults_refuse_the_era_host_key_algorithm(pair: Pair, openssh: OpenSsh) -> None:
    for name, (host, port, user, password) in {
        "simulator": (*pair.rig.endpoint(), pair.rig.user(), "unused: the handshake fails first"),
        "era-sshd": (pair.oracle.host, pair.oracle.port, ORACLE_USER, ORACLE_PASSWORD),
    }.items():
        result = openssh.run(host, port, user, password, "true")
        assert result.returncode == 255, (name, result)
        assert "no matching host key type found. Their offer: ssh-rsa" in result.stderr, (name, result.stderr)


def test_openssh_with_ssh_rsa_enabled_runs_commands(pair: Pair, openssh: OpenSsh) -> None:
    command = "echo out; echo err >&2; exit 3"
    for name, (host, port, user, password) in {
        "simulator": (*pair.rig.endpoint(), pair.rig.user(), pair.rig.uaa.issue()),
        "era-sshd": (pair.oracle.host, pair.oracle.port, ORACLE_USER, ORACLE_PASSWORD),
    }.items():
        result = openssh.run(host, port, user, password, command, "-o", "HostKeyAlgorithms=+ssh-rsa")
        assert (result.returncode, result.stdout) == (3, "out\n"), (name, result)
        assert "err" in result.stderr, (name, result.stderr)


def test_openssh_forced_terminal_is_a_real_pty(pair: Pair, openssh: OpenSsh) -> None:
    result = openssh.run(*pair.rig.endpoint(), pair.rig.user(), pair.rig.uaa.issue(), "tty",
                         "-tt", "-o", "HostKeyAlgorithms=+ssh-rsa")
    assert result.returncode == 0 and result.stdout.startswith("/dev/pts/"), result


def test_every_offered_algorithm_works_with_openssh(rig: SshRig, openssh: OpenSsh) -> None:
    """Each kex, cipher and MAC the proxy offers completes a session with an independent client
    (the cf CLI's Go client picks aes128-gcm@openssh.com, OpenSSH's defaults aes128-ctr).
    OpenSSH 9 has no arcfour: see test_arcfour_* below."""
    failures = []
    for diego, era in sorted(ERAS.items()):
        choices = [("-o", f"KexAlgorithms={kex}") for kex in era.kex]
        choices += [("-c", cipher) for cipher in era.ciphers if not cipher.startswith("arcfour")]
        choices += [("-c", "aes128-ctr", "-m", mac) for mac in era.macs]
        with rig.diego(diego):
            for choice in choices:
                result = openssh.run(*rig.endpoint(), rig.user(), rig.uaa.issue(), "echo ok",
                                     "-o", "HostKeyAlgorithms=ssh-rsa", *choice)
                if (result.returncode, result.stdout) != (0, "ok\n"):
                    failures.append(f"diego {diego} {' '.join(choice)}: exit {result.returncode}, "
                                    f"stdout {result.stdout!r}, stderr {result.stderr.strip()[-300:]!r}")
    assert not failures, "\n".join(failures)


# ------------------------------------------------------------------ arcfour (RFC 4345)


def _rc4(key: bytes, n: int) -> bytes:
    """RC4 key stream, written out from the algorithm (no library): the reference for arcfour."""
    s, j = list(range(256)), 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for _ in range(n):
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(s[(s[i] + s[j]) % 256])
    return bytes(out)


def test_arcfour_key_stream_is_rfc_4345() -> None:
    assert _rc4(bytes([1, 2, 3, 4, 5]), 16).hex() == "b2396305f03dc027ccc3524a0a1118a8"  # RFC 6229, 40-bit key
    for size in (16, 32):  # arcfour128, arcfour256
        key = bytes(range(7, 7 + size))
        plain = b"a packet of the era" * 10
        stream = _rc4(key, ARCFOUR_DISCARD + len(plain))[ARCFOUR_DISCARD:]
        assert arcfour_engine(key).update(plain) == bytes(p ^ k for p, k in zip(plain, stream, strict=True))


class _ArcfourClient(paramiko.Transport):
    """A client that knows RFC 4345 (paramiko dropped it); the key stream is checked above."""

    _cipher_info = {**paramiko.Transport._cipher_info, **ARCFOUR_CIPHERS}

    def _get_engine(self, name, key, iv=None, operation=None, aead=False):  # type: ignore[no-untyped-def]
        return arcfour_engine(key) if name in ARCFOUR_CIPHERS else super()._get_engine(name, key, iv, operation, aead)


@pytest.mark.parametrize("cipher", ["arcfour256", "arcfour128"])
def test_arcfour_sessions_work(rig: SshRig, cipher: str) -> None:
    transport = _ArcfourClient(rig.endpoint())
    transport._preferred_ciphers = (cipher,)
    try:
        transport.start_client(timeout=10)
        assert (transport.local_cipher, transport.remote_cipher) == (cipher, cipher)
        transport.auth_password(rig.user(), rig.uaa.issue())
        chan = transport.open_session()
        chan.exec_command("head -c 100000 /dev/zero | tr '\\0' x")
        data = chan.makefile("rb").read()
        assert (len(data), set(data), chan.recv_exit_status()) == (100000, {ord("x")}, 0)
    finally:
        transport.close()
