"""Smoke test: push a fresh 2-instance app with SSH; every instance RUNNING, routable,
logging and reachable over SSH; then delete app and route and see the route answer
unknown_route."""


def test_smoke_two_instances_run_route_log_and_accept_ssh(smoke_run):
    result = smoke_run.smoke("smoke")
    failed = [v for v in result.verdicts if not v.ok]
    assert not failed, "\n".join(str(v) for v in failed)
    assert [v.check for v in result.verdicts] == ["instances running", "instances routable", "logs visible",
                                                  "ssh", "ssh", "route removed"]
