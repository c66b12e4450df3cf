"""What the Diego ssh proxy of each diego release offered on the wire (facts, with sources).

The proxy (diego-ssh `cmd/ssh-proxy`) builds an `ssh.ServerConfig` with a password callback
and one host key and sets no `KeyExchanges`, `Ciphers` or `MACs`, so the lists it sends in
its KEXINIT are the defaults of the `golang.org/x/crypto/ssh` commit the diego release pinned
(diego-ssh@fc5f549:cmd/ssh-proxy/main.go:220-237). The sessions behind it are served by the
in-container daemon (diego-ssh `cmd/sshd`) of the same release, whose request set grew
`subsystem` (sftp only) between the two releases. docs/architecture.md "Era: Diego ssh proxy"
has the table; this module is the one place the simulator takes these facts from.
"""

from __future__ import annotations

from dataclasses import dataclass

BANNER = "SSH-2.0-Go"  # golang/crypto@c57d4a7:ssh/transport.go:262 packageVersion (same at c8b9e63)

# golang/crypto@c57d4a7:ssh/common.go:27-31 (identical at c8b9e63)
_CIPHERS = ("aes128-ctr", "aes192-ctr", "aes256-ctr", "aes128-gcm@openssh.com", "arcfour256", "arcfour128")
# golang/crypto@c57d4a7:ssh/common.go:35-40
_KEX_C57D4A7 = ("ecdh-sha2-nistp256", "ecdh-sha2-nistp384", "ecdh-sha2-nistp521",
                "diffie-hellman-group14-sha1", "diffie-hellman-group1-sha1")

# diego-ssh@fc5f549:handlers/session_channel_handler.go:110-122
_SESSION_REQUESTS = ("env", "signal", "pty-req", "window-change", "exec", "shell")


@dataclass(frozen=True)
class SshEra:
    """The proxy's transport and the in-container daemon's session surface for one release."""

    diego_version: str
    x_crypto: str  # golang.org/x/crypto commit pinned by diego-release at that tag
    kex: tuple[str, ...]
    ciphers: tuple[str, ...]
    macs: tuple[str, ...]
    session_requests: tuple[str, ...]
    subsystems: tuple[str, ...]  # names `subsystem` answers true for (only if listed in session_requests)
    compression: tuple[str, ...] = ("none",)
    banner: str = BANNER
    # Channel types of the daemon (diego-ssh@fc5f549:cmd/sshd/channel_handlers.go:17-20, same at 2be354e)
    channel_types: tuple[str, ...] = ("session", "direct-tcpip")


ERAS: dict[str, SshEra] = {era.diego_version: era for era in (
    SshEra(
        diego_version="0.1434.0", x_crypto="c57d4a71915a",
        kex=_KEX_C57D4A7,
        ciphers=_CIPHERS,
        macs=("hmac-sha1", "hmac-sha1-96"),  # golang/crypto@c57d4a7:ssh/common.go:55-57
        session_requests=_SESSION_REQUESTS,
        subsystems=(),
    ),
    SshEra(
        diego_version="0.1454.0", x_crypto="c8b9e6388ef6",
        kex=("curve25519-sha256@libssh.org", *_KEX_C57D4A7),  # golang/crypto@c8b9e63:ssh/common.go:35-41
        ciphers=_CIPHERS,
        macs=("hmac-sha2-256", "hmac-sha1", "hmac-sha1-96"),  # golang/crypto@c8b9e63:ssh/common.go:56-58
        # diego-ssh@2be354e:handlers/session_channel_handler.go:124, 289-313 (commit 6959ab2)
        session_requests=(*_SESSION_REQUESTS, "subsystem"),
        subsystems=("sftp",),
    ),
)}


class UnknownEra(LookupError):
    """The running ssh_proxy comes from a diego release whose proxy this simulator does not know."""


def era_for(diego_version: str | None) -> SshEra:
    try:
        return ERAS[str(diego_version)]
    except KeyError:
        raise UnknownEra(f"ssh_proxy of diego release {diego_version!r}: the simulator knows the ssh proxy "
                         f"of diego {', '.join(sorted(ERAS))} only") from None
