"""A paramiko server transport that negotiates exactly like the era's Go SSH server.

Why a subclass rather than `disabled_algorithms`: the era's lists are not a subset of
paramiko's in paramiko's order (the Go server offers `arcfour256, arcfour128` after
`aes128-gcm@openssh.com`, which paramiko no longer implements at all), and what must be
proven is *equality* with the era's KEXINIT. So the transport's preference tuples are set to
the era's lists outright, every name is checked against paramiko's implementation tables
when the transport is built (a paramiko upgrade that drops one fails loudly, not with a
silently shorter offer), and the RC4 ciphers of RFC 4345 are supplied here.

Also switched off, because the 2015 Go server had none of them:
* strict key exchange (`kex-strict-s-v00@openssh.com`, the Terrapin counter-measure of 2023);
* ext-info / `server-sig-algs` (RFC 8308, 2018);
* paramiko's own handling of channel requests: every `CHANNEL_REQUEST` goes to the server
  object's `channel_request(channel, kind, want_reply, message)`, which decides as the
  in-container daemon did (`session.py`); the reply is sent before the request's action starts
  (on its own thread), as the Go daemon replies to `exec` before it starts the command.

Relies on paramiko internals that are stable from 3.5 to 4.x (`_preferred_*`, `_cipher_info`,
`_get_engine`, `_channel_handler_table`, `_send_user_message`); pyproject pins `<5`, and
paramiko 5 dropped `ssh-rsa` entirely, which the era needs.
"""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable
from typing import Any, Protocol

import paramiko
from cryptography.hazmat.primitives.ciphers import Cipher
from paramiko.common import (
    MSG_CHANNEL_REQUEST,
    cMSG_CHANNEL_FAILURE,
    cMSG_CHANNEL_SUCCESS,
)

from simulator.sshproxy.era import SshEra

try:  # cryptography >= 43 keeps RC4 among the "decrepit" algorithms
    from cryptography.hazmat.decrepit.ciphers.algorithms import ARC4
except ImportError:  # pragma: no cover - cryptography 42
    from cryptography.hazmat.primitives.ciphers.algorithms import ARC4  # type: ignore[no-redef]

# RFC 4345: arcfour128/arcfour256 discard the first 1536 bytes of key stream
# (golang/crypto@c57d4a7:ssh/cipher.go:101-104: key sizes 16 and 32, skip 1536).
ARCFOUR_DISCARD = 1536
ARCFOUR_CIPHERS = {
    "arcfour128": {"class": ARC4, "mode": None, "block-size": 8, "key-size": 16},
    "arcfour256": {"class": ARC4, "mode": None, "block-size": 8, "key-size": 32},
}

After = Callable[[], None] | None


class ChannelRequestHandler(Protocol):
    def channel_request(self, channel: paramiko.Channel, kind: str, want_reply: bool,
                        message: paramiko.Message) -> tuple[bool, After]:
        """Decide a channel request: (reply, action to run once the reply is sent)."""


def arcfour_engine(key: bytes) -> Any:
    """An RFC 4345 RC4 stream (encryption and decryption are the same operation)."""
    engine = Cipher(ARC4(key), mode=None).encryptor()
    engine.update(bytes(ARCFOUR_DISCARD))
    return engine


def _route_channel_request(channel: paramiko.Channel, m: paramiko.Message) -> None:
    kind = m.get_string().decode("utf-8", "replace")
    want_reply = m.get_boolean()
    transport = channel.get_transport()
    handler: ChannelRequestHandler | None = transport.server_object if transport is not None else None
    ok, after = (False, None) if handler is None else handler.channel_request(channel, kind, want_reply, m)
    if want_reply:
        reply = paramiko.Message()
        reply.add_byte(cMSG_CHANNEL_SUCCESS if ok else cMSG_CHANNEL_FAILURE)
        reply.add_int(channel.remote_chanid)
        channel.transport._send_user_message(reply)
    if ok and after is not None:  # off the transport thread, which must keep reading packets
        threading.Thread(target=after, name="ssh-channel-request", daemon=True).start()


class EraTransport(paramiko.Transport):
    """Server side only: `EraTransport(sock, era, host_key)` then `start_server(server=...)`."""

    _cipher_info = {**paramiko.Transport._cipher_info, **ARCFOUR_CIPHERS}
    _channel_handler_table = {**paramiko.Transport._channel_handler_table,
                              MSG_CHANNEL_REQUEST: _route_channel_request}

    def __init__(self, sock: socket.socket, era: SshEra, host_key: paramiko.PKey) -> None:
        super().__init__(sock, strict_kex=False, server_sig_algs=False)
        self.era = era
        self.local_version = era.banner
        self._preferred_kex = era.kex
        self._preferred_ciphers = era.ciphers
        self._preferred_macs = era.macs
        self._preferred_compression = era.compression
        # The Go server offers `k.PublicKey().Type()` per host key (golang/crypto@c57d4a7:
        # ssh/handshake.go:231-235): `ssh-rsa` (SHA-1 signatures) for an RSA key, never rsa-sha2-*.
        self._preferred_keys = (host_key.get_name(),)
        self.add_server_key(host_key)
        missing = [f"{what} {name}" for what, names, table in (
            ("kex", era.kex, self._kex_info), ("cipher", era.ciphers, self._cipher_info),
            ("mac", era.macs, self._mac_info), ("compression", era.compression, self._compression_info),
            ("host key", self._preferred_keys, self._key_info),
        ) for name in names if name not in table]
        if missing:
            raise RuntimeError(f"paramiko {paramiko.__version__} cannot offer what the ssh proxy of diego "
                               f"{era.diego_version} offered: {', '.join(missing)}")

    def _get_engine(self, name: str, key: bytes, iv: bytes | None = None, operation: Any = None,
                    aead: bool = False) -> Any:
        if name in ARCFOUR_CIPHERS:
            return arcfour_engine(key)
        return super()._get_engine(name, key, iv=iv, operation=operation, aead=aead)
