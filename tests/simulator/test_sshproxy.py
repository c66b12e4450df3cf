"""SSH proxy: CF authentication with one-time codes, the in-container daemon's sessions (exec,
stdin, signals, pty, sftp by era), direct-tcpip, host keys, faults. The wire surface compared
with the era's real Go server is in tests/ssh/test_era_wire.py."""

from __future__ import annotations

import os
import socket
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paramiko.common import MSG_CHANNEL_REQUEST

from simulator.sshexec import send_channel_request
from simulator.sshproxy import fingerprint_md5, fingerprint_sha256
from simulator.sshproxy.proxy import load_private_key
from tests.ssh.rig import HOST_KEY, SECRET, SshRig, pem, running_rig

V0, V_PRIME = "0.1434.0", "0.1454.0"


@pytest.fixture(scope="module")
def rig(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SshRig]:
    with running_rig(tmp_path_factory.mktemp("ssh")) as r:
        yield r


def _read_all(chan: paramiko.Channel, timeout: float = 10.0) -> tuple[bytes, bytes]:
    """stdout to EOF, then stderr (small outputs only: stderr is not read while stdout is)."""
    chan.settimeout(timeout)
    return chan.makefile("rb").read(), chan.makefile_stderr("rb").read()


# ------------------------------------------------------------------ exec and authentication


def test_exec_stdout_stderr_exit_status_and_index(rig: SshRig) -> None:
    code, out, err, _ = rig.exec("echo $GREETING $CF_INSTANCE_INDEX; echo oops >&2; exit 7", index=1)
    assert (code, out, err) == (7, "hello 1\n", "oops\n")
    code, out, _, _ = rig.exec("pwd; test -f app.py && echo has-app")
    cwd, _env = rig.diego_rt.instance_dir_env(rig.process_guid, 0)
    assert code == 0 and out == f"{cwd}\nhas-app\n"
    assert rig.cc.ssh_access_calls[-1] == ("token-admin", rig.app_guid, 0)
    assert ("ssh-proxy", SECRET) in rig.uaa.exchanges
    assert any(line[1] == "SSH" and line[3].startswith("Successful remote access") for line in rig.logs.lines)


def test_command_environment_is_the_daemons(rig: SshRig) -> None:
    """PATH=/bin:/usr/bin, the instance's environment, `env` requests, but HOME/USER stay."""
    transport = rig.client()
    try:
        chan = transport.open_session()
        chan.set_environment_variable("FROM_CLIENT", "yes")
        chan.set_environment_variable("HOME", "/elsewhere")
        chan.exec_command('echo "$PATH|$FROM_CLIENT|$HOME|$USER|$CF_INSTANCE_INDEX|$GREETING"')
        out, _ = _read_all(chan)
        home, _env = rig.diego_rt.instance_dir_env(rig.process_guid, 0)
        assert out.decode() == f"/bin:/usr/bin|yes|{home}|vcap|0|hello\n"
        assert chan.recv_exit_status() == 0
    finally:
        transport.close()


def test_stdin_is_streamed_until_eof(rig: SshRig) -> None:
    transport = rig.client()
    try:
        chan = transport.open_session()
        chan.exec_command("wc -c; echo done >&2")
        for _ in range(64):
            chan.sendall(b"x" * 16384)
        chan.shutdown_write()
        out, err = _read_all(chan)
        assert (out.decode().strip(), err, chan.recv_exit_status()) == (str(64 * 16384), b"done\n", 0)
    finally:
        transport.close()


def test_host_key_is_the_deployed_one(rig: SshRig) -> None:
    *_, key = rig.exec("true")
    assert fingerprint_md5(key) == fingerprint_md5(HOST_KEY) == rig.proxy.host_key_fingerprint()
    assert len(fingerprint_md5(key)) == 47 and len(fingerprint_sha256(key)) == 43


def test_generated_host_key_without_property(rig: SshRig) -> None:
    props = rig.access.properties
    rig.access.properties = {"diego": {"ssh_proxy": {"uaa_secret": SECRET}}}
    try:
        *_, key = rig.exec("true")
        assert fingerprint_md5(key) != fingerprint_md5(HOST_KEY)
        assert fingerprint_md5(key) == rig.proxy.host_key_fingerprint()
    finally:
        rig.access.properties = props


def test_host_keys_the_era_could_not_parse_are_refused() -> None:
    """x/crypto of 2015 parsed PEM `RSA PRIVATE KEY` / `EC PRIVATE KEY` (and DSA) only."""
    assert load_private_key(pem(HOST_KEY)).get_name() == "ssh-rsa"
    assert load_private_key(pem(paramiko.ECDSAKey.generate())).get_name() == "ecdsa-sha2-nistp256"
    ed25519 = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.OpenSSH, serialization.NoEncryption())
    pkcs8 = rsa.generate_private_key(65537, 2048).private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    for text, kind in ((ed25519, "OPENSSH PRIVATE KEY"), (pkcs8, "PRIVATE KEY")):
        with pytest.raises(ValueError, match=f"not '{kind}'"):
            load_private_key(text.decode())


def test_code_is_single_use_and_checked(rig: SshRig) -> None:
    code = rig.uaa.issue()
    assert rig.exec("true", code=code)[0] == 0
    with pytest.raises(paramiko.AuthenticationException):
        rig.exec("true", code=code)
    with pytest.raises(paramiko.AuthenticationException):
        rig.exec("true", code="not-a-code")
    with pytest.raises(paramiko.AuthenticationException):  # CC refuses this app
        rig.exec("true", user=f"cf:{uuid.uuid4()}/0")
    with pytest.raises(paramiko.AuthenticationException):
        rig.exec("true", user="root")


def test_public_key_auth_is_not_offered(rig: SshRig) -> None:
    transport = paramiko.Transport(rig.endpoint())
    try:
        transport.start_client(timeout=10)
        with pytest.raises(paramiko.AuthenticationException) as refused:
            transport.auth_publickey(rig.user(), paramiko.RSAKey.generate(2048))
        assert getattr(refused.value, "allowed_types", ["password"]) == ["password"]
        assert not transport.is_authenticated()
    finally:
        transport.close()


def test_break_ssh_fault(rig: SshRig) -> None:
    rig.world.faults.inject("break_ssh", "probe", duration=1.0)
    code, out, err, _ = rig.exec("echo hi")
    assert code == 1 and out == "" and "Error" in err
    rig.world.faults.clear()
    assert rig.exec("echo hi")[:2] == (0, "hi\n")


def test_down_while_ssh_proxy_job_is_stopped(rig: SshRig) -> None:
    rig.director.down(rig.access)
    try:
        with pytest.raises((paramiko.SSHException, EOFError, OSError)):
            rig.exec("true")
    finally:
        rig.director.start(rig.access)
    assert rig.exec("true")[0] == 0


def test_missing_instance_fails_cleanly(rig: SshRig) -> None:
    code, _, err, _ = rig.exec("true", index=5)
    assert code == 1 and "not running" in err


def test_unknown_diego_release_serves_nothing(rig: SshRig) -> None:
    with rig.diego("0.9999.0"), pytest.raises((paramiko.SSHException, EOFError, OSError)):
        rig.exec("true")
    assert rig.exec("true")[0] == 0


# ------------------------------------------------------------------ signals and exit messages


class _RecordingClient(paramiko.Transport):
    """A client transport that also records the server's channel requests (paramiko's own
    client ignores `exit-signal`)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.requests: list[tuple[str, bytes]] = []

    def _record(chan: paramiko.Channel, m: paramiko.Message) -> None:  # type: ignore[misc]
        start = m.packet.tell()
        chan.transport.requests.append((m.get_text(), m.asbytes()[m.packet.tell():]))
        m.packet.seek(start)
        paramiko.Channel._handle_request(chan, m)

    _channel_handler_table = {**paramiko.Transport._channel_handler_table, MSG_CHANNEL_REQUEST: _record}


def test_signal_request_and_exit_signal(rig: SshRig) -> None:
    transport = _RecordingClient(rig.endpoint())
    try:
        transport.start_client(timeout=10)
        transport.auth_password(rig.user(), rig.uaa.issue())
        chan = transport.open_session()
        chan.exec_command("echo started; exec sleep 30")
        chan.settimeout(10)
        assert chan.recv(100) == b"started\n"
        send_channel_request(chan, "signal", "INT")
        _read_all(chan)
        kinds = [kind for kind, _ in transport.requests]
        assert "exit-signal" in kinds and "exit-status" not in kinds, transport.requests
        payload = dict(transport.requests)["exit-signal"]
        assert payload[5:5 + 3] == b"INT", payload  # want_reply byte, uint32 length, "INT"
    finally:
        transport.close()


def test_disconnect_hangs_up_the_command(rig: SshRig) -> None:
    transport = rig.client()
    chan = transport.open_session()
    chan.exec_command("echo $$; exec sleep 60")
    chan.settimeout(10)
    pid = int(chan.recv(100).decode())
    transport.close()
    deadline = time.monotonic() + 10
    while _running(pid):
        assert time.monotonic() < deadline, f"pid {pid} still running after the client disconnected"
        time.sleep(0.1)


def _running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"  # a zombie has exited
    except OSError:
        return False


# ------------------------------------------------------------------ pty


def test_pty_shell_gets_a_terminal(rig: SshRig) -> None:
    transport = rig.client()
    try:
        chan = transport.open_session()
        chan.get_pty(term="xterm-256color", width=91, height=37)
        chan.invoke_shell()
        chan.sendall(b"tty; stty size; echo term=$TERM; exit 4\n")
        out, _ = _read_all(chan)
        text = out.decode(errors="replace")
        assert "/dev/pts/" in text and "not a tty" not in text, text
        assert "37 91" in text and "term=xterm-256color" in text, text
        assert chan.recv_exit_status() == 4
    finally:
        transport.close()


def test_window_change_resizes_the_terminal(rig: SshRig) -> None:
    transport = rig.client()
    try:
        chan = transport.open_session()
        chan.get_pty(width=80, height=24)
        chan.exec_command("read line; stty size")
        chan.resize_pty(width=132, height=50)
        time.sleep(0.2)
        chan.sendall(b"go\n")
        out, _ = _read_all(chan)
        assert out.decode().splitlines()[-1].strip() == "50 132", out
    finally:
        transport.close()


def test_without_pty_there_is_no_terminal(rig: SshRig) -> None:
    code, out, _, _ = rig.exec("tty")
    assert (code, out) == (1, "not a tty\n")


# ------------------------------------------------------------------ direct-tcpip (cf ssh -L)


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1"])
def test_direct_tcpip_reaches_the_instance_port(rig: SshRig, host: str) -> None:
    """`cf ssh -L 9000:localhost:8080`: every instance listens on 8080 in its own container,
    and the session's `localhost` is the container of the index it logged in to."""
    assert rig.instance_port(0) == rig.instance_port(1) == 8080
    for index in (1, 0):
        transport = rig.client(index=index)
        try:
            chan = transport.open_channel("direct-tcpip", (host, 8080), ("127.0.0.1", 40000))
            chan.sendall(b"GET /index HTTP/1.0\r\nHost: x\r\n\r\n")
            out, _ = _read_all(chan)
            assert out.startswith(b"HTTP/1.") and b" 200 " in out.split(b"\r\n")[0], out[:200]
            assert out.endswith(b"\r\n\r\n" + str(index).encode()), out[-50:]
        finally:
            transport.close()


def test_direct_tcpip_refuses_targets_outside_the_container(rig: SshRig) -> None:
    bystander = socket.socket()
    bystander.bind(("127.0.0.1", 0))
    bystander.listen(1)
    bystander.settimeout(0.5)
    port = bystander.getsockname()[1]
    transport = rig.client()
    try:
        for target, reason in (
            (("10.244.0.34", 80), paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED),
            (("127.0.0.2", rig.instance_port(0)), paramiko.OPEN_FAILED_ADMINISTRATIVELY_PROHIBITED),
            (("localhost", port), paramiko.OPEN_FAILED_CONNECT_FAILED),  # not a port of the container
            (("localhost", rig.external_port(0)), paramiko.OPEN_FAILED_CONNECT_FAILED),  # the cell's, not ours
            (("localhost", rig.external_port(1)), paramiko.OPEN_FAILED_CONNECT_FAILED),  # another instance's
        ):
            with pytest.raises(paramiko.ChannelException) as refused:
                transport.open_channel("direct-tcpip", target, ("127.0.0.1", 40000), timeout=10)
            assert refused.value.code == reason, target
        with pytest.raises(TimeoutError):
            bystander.accept()  # the simulator never dialled it
    finally:
        transport.close()
        bystander.close()


# ------------------------------------------------------------------ what the era did not have


def test_other_channel_types_and_global_requests_are_refused(rig: SshRig) -> None:
    transport = rig.client()
    try:
        with pytest.raises(paramiko.ChannelException) as refused:
            transport.open_channel("auth-agent@openssh.com", timeout=10)
        assert refused.value.code == paramiko.OPEN_FAILED_UNKNOWN_CHANNEL_TYPE
        assert transport.global_request("keepalive@cloudfoundry.org", wait=True) is None
        with pytest.raises(paramiko.SSHException):
            transport.request_port_forward("127.0.0.1", 0)  # tcpip-forward: no `cf ssh -R`
        chan = transport.open_session()
        with pytest.raises(paramiko.SSHException):
            chan.request_x11()  # (paramiko's client closes the channel after a refused request)
        chan = transport.open_session()
        chan.exec_command("echo still-usable")
        assert _read_all(chan)[0] == b"still-usable\n"
    finally:
        transport.close()


def test_sftp_only_from_diego_0_1454_0(rig: SshRig) -> None:
    with rig.diego(V0):
        transport = rig.client()
        try:
            with pytest.raises(paramiko.SSHException):
                paramiko.SFTPClient.from_transport(transport)
        finally:
            transport.close()
    with rig.diego(V_PRIME):
        transport = rig.client()
        try:
            sftp = paramiko.SFTPClient.from_transport(transport)
            assert sftp is not None
            assert "app.py" in sftp.listdir(".")
            home, _env = rig.diego_rt.instance_dir_env(rig.process_guid, 0)
            assert sftp.normalize(".") == str(home)
            name = f"sftp-{uuid.uuid4().hex[:6]}.txt"
            with sftp.open(name, "w") as fh:
                fh.write("written over sftp\n")
            assert (Path(home) / name).read_text() == "written over sftp\n"
            with sftp.open(name) as fh:
                assert fh.read() == b"written over sftp\n"
            sftp.remove(name)
            assert not os.path.exists(Path(home) / name)
        finally:
            transport.close()
    with rig.diego(V_PRIME):
        transport = rig.client()
        try:
            chan = transport.open_session()
            with pytest.raises(paramiko.SSHException):
                chan.invoke_subsystem("not-sftp")
        finally:
            transport.close()
