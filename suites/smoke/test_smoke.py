"""Smoke test: push a fresh 2-instance app with SSH; every instance RUNNING, routable,
logging and reachable over SSH; then delete app and route and see the route answer
unknown_route."""

from helpers.checks import smoke_test
from helpers.logs import recent_logs
from helpers.ssh import ssh_exec


def test_smoke_two_instances_run_route_log_and_accept_ssh(smoke_cf, upgrade_run, probe_app_dir, app_http, platform):
    upgrade_run._cf = smoke_cf
    space = upgrade_run.ensure_space()
    result = smoke_test(smoke_cf, recent_logs, ssh_exec, step="smoke", space_guid=space, app_dir=probe_app_dir,
                        http=app_http, resolver=platform.resolver, instances=2,
                        timeout=platform.timeout("route_ready"), on_verdict=upgrade_run._note,
                        timeouts={k: platform.timeout(k) for k in ("app_start", "route_ready", "logs", "ssh",
                                                                   "route_gone")})
    failed = [v for v in result.verdicts if not v.ok]
    assert not failed, "\n".join(str(v) for v in failed)
    assert [v.check for v in result.verdicts] == ["instances running", "instances routable", "logs visible",
                                                  "ssh", "ssh", "route removed"]
