"""The story as data: one vocabulary, the order, the invariants, the names tests get."""

from __future__ import annotations

import pytest

from helpers import story
from helpers.story import CELLS, STORY, Op, Step, validate


def test_the_order_kinds_and_operations_are_the_stories():
    assert [s.title for s in STORY] == ["deploy V0", "upgrade D1", "upgrade D3", "upgrade D2", "upgrade CF",
                                        "upgrade D4"]
    assert [s.kind for s in STORY] == ["setup", "diego", "diego", "diego", "cf", "diego"]
    assert [op.label for op in story.UPGRADE_D3.ops] == ["deploy D3 at V-prime", "stop D4"]
    assert [op.label for op in story.UPGRADE_D2.ops] == ["deploy D2 at V-prime", "start D4", "stop D3"]
    assert [op.label for op in story.UPGRADE_D4.ops] == ["start D3", "deploy D4 at V-prime"]
    assert [op.deployment for op in story.DEPLOY_V0.ops] == ["CF", "D1", "D2", "D3", "D4"]


def test_the_names_tests_and_reports_get_read_as_the_story():
    assert [s.ops_sentence for s in STORY] == [
        "deploy CF, D1, D2, D3, D4 at V0", "upgrade D1", "upgrade D3 then stop D4",
        "upgrade D2 then start D4 and stop D3", "upgrade CF", "start D3 then upgrade D4"]
    assert [s.smoke_sentence for s in STORY] == [
        "on either cell at V0", "on either cell at V0", "on D3 only at V-prime", "on D4 only at V0",
        "on D4 only at V0", "on either cell at V-prime"]
    assert story.UPGRADE_CF.class_name == "TestUpgradeCF" and story.UPGRADE_D3.slug == "upgrade_d3"
    assert story.step("d3") is story.step("upgrade D3") is story.UPGRADE_D3
    with pytest.raises(KeyError, match="no story step 'd5'"):
        story.step("d5")


def test_the_story_holds_its_own_invariants():
    assert validate() == []


def test_the_validator_catches_both_cells_down_wrong_expectations_and_an_unfinished_upgrade():
    both_down = Step("x", "x", "diego", (Op("stop", "D3"), Op("stop", "D4")), (), {})
    assert any("stop D4 while no other cell runs" in p for p in validate([both_down]))
    wrong = Step("y", "y", "diego", (Op("deploy", "D3", "V-prime"),), CELLS, {"D4": "V-prime"})
    assert any("expects D4 at V-prime, it is at V0" in p for p in validate([wrong]))
    smoke_on_stopped = Step("z", "z", "diego", (Op("stop", "D4"),), CELLS, {})
    assert any("smoke cells D3, D4 but running cells D3" in p for p in validate([smoke_on_stopped]))
    skipped_upgrades = validate([story.DEPLOY_V0, story.UPGRADE_D4])
    assert "the story ends with CF, D1, D2, D3 not at V-prime" in skipped_upgrades


def test_operations_are_checked_when_written():
    with pytest.raises(ValueError, match="unknown deployment 'D5'"):
        Op("stop", "D5")
    with pytest.raises(ValueError, match="a deploy names V0 or V-prime"):
        Op("deploy", "D1")
    with pytest.raises(ValueError, match="a deploy names V0 or V-prime"):
        Op("stop", "D3", "V0")
