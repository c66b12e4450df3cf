"""Diego's ssh-proxy of the simulated BOSH-Lite (see `proxy.py`), with the wire surface of the
running instance's diego release (`era.py`)."""

from simulator.sshproxy.era import ERAS, SshEra, era_for
from simulator.sshproxy.proxy import SshProxy, attach, fingerprint_md5, fingerprint_sha256

__all__ = ["ERAS", "SshEra", "SshProxy", "attach", "era_for", "fingerprint_md5", "fingerprint_sha256"]
