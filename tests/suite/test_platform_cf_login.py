"""Platform.new_cf: retry while CF comes up, but fail at once on rejected credentials.

Wrong CF admin credentials used to be retried for the whole `login` timeout (minutes) before
the run said anything; a 404 from the router while CF is replaced must still be retried.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

import helpers.cf
from fixtures.platform import Platform
from helpers.cf import CFError


def make_platform(login_errors: list[CFError | None]) -> tuple[Platform, list[int], type]:
    calls: list[int] = []

    class FakeCF:
        def __init__(self, *a, **k) -> None:
            pass

        def login(self) -> None:
            calls.append(1)
            err = login_errors.pop(0) if login_errors else None
            if err is not None:
                raise err

    config = SimpleNamespace(cf=SimpleNamespace(), timeout=lambda name: 30.0)
    platform = Platform(config=config, resolver=None, director=None, artifacts=None)  # type: ignore[arg-type]
    return platform, calls, FakeCF


def test_rejected_credentials_fail_at_once(monkeypatch):
    rejected = CFError(None, None, "unauthorized: Bad credentials", 401, "POST /oauth/token")
    platform, calls, fake = make_platform([rejected] * 10)
    monkeypatch.setattr(helpers.cf, "CloudFoundry", fake)
    with pytest.raises(CFError, match="Bad credentials"):
        platform.new_cf()
    assert len(calls) == 1


def test_api_not_routed_yet_is_retried(monkeypatch):
    monkeypatch.setattr("fixtures.platform.time.sleep", lambda s: None)
    not_yet = CFError(None, None, "404 Not Found: Requested route does not exist", 404, "GET /v2/info")
    platform, calls, fake = make_platform([not_yet, not_yet])
    monkeypatch.setattr(helpers.cf, "CloudFoundry", fake)
    assert platform.new_cf() is not None
    assert len(calls) == 3 and len(platform.cf_clients) == 1
