"""The PII test set (evals/pii, #18): no personal value reaches the LLM provider (a capturing
stub behind the chat provider) or a log line (the project's handler), no order number, amount,
date or id is changed, and the draft's answer gets the real values back; over every case of
both parts (bench/pii_leaks.py reports the same figures). Names no cue announces (`"cue":
false`) are the one known gap: they are counted, not failed on (evals/pii/README.md)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from evals.pii.cases import PARTS, Case, leaks, load
from evals.pii.measure import Outcome, measure, summary

SIZES = {"dev": 402, "heldout": 181}


def _known_gap(item: dict[str, Any]) -> bool:
    return item["type"] == "PERSON" and item.get("cue", True) is False


@pytest.fixture(scope="module")
def measured() -> dict[str, tuple[list[Case], list[Outcome]]]:
    out = {}
    for part in PARTS:
        cases, _skipped = load(part)
        out[part] = (cases, measure(cases))
    return out


def _failed(outcomes: list[Outcome], exit_name: str) -> dict[str, list[dict[str, str]]]:
    found = {o.id: [i for i in getattr(o, exit_name) if not _known_gap(i)] for o in outcomes}
    return {case_id: items for case_id, items in found.items() if items}


def test_the_set_is_what_its_readme_says() -> None:
    for part, size in SIZES.items():
        lines = PARTS[part].read_text(encoding="utf-8").splitlines()
        assert json.loads(lines[0])["header"]["cases"] == size == len(lines) - 1
        cases, skipped = load(part)
        assert len(cases) + skipped == size
        for case in cases:  # what the rules judge is in the text as labelled
            assert all(item["value"] in case.text for item in case.pii), case.id
            assert all(value in case.text for value in case.keep), case.id
            # The leak rule sees every value in the unredacted text: the checks can fail.
            assert leaks(case, case.text) == case.pii, case.id


@pytest.mark.parametrize("part", list(PARTS))
def test_no_personal_value_reaches_the_model(
    measured: dict[str, tuple[list[Case], list[Outcome]]], part: str
) -> None:
    assert _failed(measured[part][1], "model") == {}


@pytest.mark.parametrize("part", list(PARTS))
def test_no_personal_value_is_written_to_a_log(
    measured: dict[str, tuple[list[Case], list[Outcome]]], part: str
) -> None:
    assert _failed(measured[part][1], "logs") == {}


@pytest.mark.parametrize("part", list(PARTS))
def test_order_numbers_amounts_dates_and_ids_survive(
    measured: dict[str, tuple[list[Case], list[Outcome]]], part: str
) -> None:
    assert {o.id: o.mangled for o in measured[part][1] if o.mangled} == {}


@pytest.mark.parametrize("part", list(PARTS))
def test_the_answer_gets_the_real_values_back(
    measured: dict[str, tuple[list[Case], list[Outcome]]], part: str
) -> None:
    assert {o.id: o.unrestored for o in measured[part][1] if o.unrestored} == {}


def test_the_known_gap_is_reported(measured: dict[str, tuple[list[Case], list[Outcome]]]) -> None:
    cases, outcomes = measured["dev"]
    names = summary(cases, outcomes)["person_names"]
    assert names["with_cue"]["leaked_to_model"] == names["with_cue"]["leaked_to_logs"] == 0
    uncued = names["without_cue"]
    assert uncued["values"] == sum(_known_gap(item) for case in cases for item in case.pii) > 0
