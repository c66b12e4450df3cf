"""The cf CLI facts table (ci/cf_cli_era.py): the rule is about the CC API the CLI needs, not
about a list of good CLI numbers, and the bounds sit exactly where the sources put them."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci import cf_cli_era
from ci.cf_cli_era import cli_problems, era_releases, parse_version

REPO = Path(__file__).resolve().parents[2]
ERA = {"cf": {"220", "231"}, "diego": {"0.1434.0", "0.1454.0"}}


@pytest.mark.parametrize(("text", "version"), [
    ("v6.53.0", (6, 53, 0)), ("6.15", (6, 15)), ("v6.43.1-1", (6, 43, 1)), ("6.15.0+74b98e9", (6, 15, 0)),
    ("latest", None),
])
def test_versions_are_read_like_the_cli_tags(text: str, version: tuple[int, ...] | None) -> None:
    assert parse_version(text) == version


def test_the_project_deploys_the_era_the_table_knows() -> None:
    era = era_releases(REPO)
    assert era["cf"] == {"220", "231"} and era["diego"] == {"0.1434.0", "0.1454.0"}
    assert era["cf"] <= set(cf_cli_era.CC_API_BY_CF_RELEASE)


def test_the_pinned_cli_passes_and_its_neighbours_fail_where_the_sources_say() -> None:
    assert cli_problems("v6.15.0", {"cats", "dats"}, ERA) == []
    assert cli_problems("v6.38.0", {"cats", "dats"}, ERA) == []  # no declared minimum yet
    assert "below 2.69.0" in " ".join(cli_problems("v6.39.0", {"cats"}, ERA))
    # "6.15" in CATs at cf v231 means 6.15.0: 6.14.1 is too old for them, not for DATs at 0.1454.0
    assert cli_problems("v6.14.1", {"dats"}, ERA) == []
    assert "CATs at cf v231 require: 6.15.0" in " ".join(cli_problems("v6.14.1", {"cats"}, ERA))
    assert "DATs at diego v0.1454.0 require: 6.13.0" in " ".join(cli_problems("v6.12.2", {"dats"}, ERA))


def test_the_upper_bound_follows_the_cc_api_of_the_deployed_cf(monkeypatch: pytest.MonkeyPatch) -> None:
    """The same CLI is fine against a CC new enough for it: the rule is CLI need vs CC API."""
    monkeypatch.setitem(cf_cli_era.CC_API_BY_CF_RELEASE, "280", "2.128.0")
    assert cli_problems("v6.53.0", set(), {"cf": {"280"}}) == []
    monkeypatch.setitem(cf_cli_era.CC_API_BY_CF_RELEASE, "250", "2.63.0")  # before the CC root was certain
    problems = cli_problems("v6.53.0", set(), {"cf": {"250", "280"}})
    assert len(problems) == 1 and "cf v250 has CC API 2.63.0" in problems[0] and "`GET /`" in problems[0]
