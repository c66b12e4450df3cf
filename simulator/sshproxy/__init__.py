"""Diego's ssh-proxy of the simulated BOSH-Lite (see `proxy.py`)."""

from simulator.sshproxy.proxy import SshProxy, attach, fingerprint_md5, fingerprint_sha256

__all__ = ["SshProxy", "attach", "fingerprint_md5", "fingerprint_sha256"]
