"""A0 ssh: a one-shot command on A0's instance 0 over the Diego ssh proxy succeeds.

Each attempt asks UAA for a one-time code (as `cf ssh` does), connects to the advertised
ssh endpoint through the resolve map, checks the host key against the advertised
fingerprint, runs `echo index=$CF_INSTANCE_INDEX; echo <marker>` and expects exit 0 with
both lines. Error classes: `ssh_code_failed`, `ssh_connect`, `ssh_host_key`, `ssh_auth`,
`ssh_failed` (ran, but not as expected).

Policy: the ssh proxy runs on D2's access VM and looks the instance up in the BBS on D1's
database VM; the stories deploy one of each (diego-release@v0.1434.0:manifest-generation/
diego.yml:761-819), so while D1 or D2 updates no ssh session can open, on a real BOSH-Lite
as here. Those steps are recorded, not enforced, by default; the cell steps are enforced.
"""

from __future__ import annotations

import uuid

from helpers.checks import ssh_ran
from helpers.observers.base import Observer, ObserverContext
from helpers.observers.policy import RECORDED
from helpers.prober import LoopProber, Prober
from helpers.samples import Sample
from helpers.ssh import SshAuthError, SshConnectError, SshHostKeyError, ssh_exec

ERRORS = ((SshConnectError, "ssh_connect"), (SshHostKeyError, "ssh_host_key"), (SshAuthError, "ssh_auth"))


class A0Ssh(Observer):
    name = "a0_ssh"
    title = "A0 ssh"
    OPTIONS = {"interval": 2.0, "timeout": 10.0}
    STEP_POLICIES = {"upgrade D1": RECORDED, "upgrade D2": RECORDED}

    def headline(self, step: str) -> str:
        return f"ssh to A0 failed during {step!r}"

    def prepare(self, ctx: ObserverContext) -> None:
        self.cf = ctx.new_cf()

    def make_prober(self, ctx: ObserverContext) -> Prober:
        return LoopProber(self.name, self._attempt, interval=self.options["interval"],
                          attempt_timeout=2 * self.options["timeout"] * ctx.scale)

    def _attempt(self, sample: Sample) -> None:
        ctx = self.ctx
        assert ctx is not None
        try:
            endpoint, fingerprint, _client = self.cf.ssh_endpoint()
            code = self.cf.ssh_code()
        except Exception as exc:
            sample.error, sample.detail = "ssh_code_failed", f"{type(exc).__name__}: {str(exc)[:200]}"
            return
        marker = f"marker-{uuid.uuid4().hex[:8]}"
        command = f'echo "index=$CF_INSTANCE_INDEX"; echo {marker}'
        try:
            result = ssh_exec(endpoint, fingerprint, f"cf:{ctx.a0.guid}/0", code, command, ctx.resolver,
                              self.options["timeout"] * ctx.scale)
        except Exception as exc:
            sample.error = next((cls for kind, cls in ERRORS if isinstance(exc, kind)), "ssh_failed")
            sample.detail = f"{type(exc).__name__}: {str(exc)[:200]}"
            return
        verdict = ssh_ran("", "A0", 0, result, marker)
        if not verdict.ok:
            sample.error, sample.detail = "ssh_failed", verdict.message[:240]
