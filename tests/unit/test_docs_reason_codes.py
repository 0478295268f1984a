"""docs/REASON_CODES.md names every reason code a decision can carry, and nothing else."""

from __future__ import annotations

import re
from pathlib import Path

from xinbao.parameters import load_antifraud_rules
from xinbao.simulation.history import FEATURES

ROOT = Path(__file__).resolve().parents[2]
DOC = ROOT / "docs" / "REASON_CODES.md"
#: Rule names of refused input (422 / exit 2), not decision findings.
INPUT_RULES = {"AF-LIST-FIELD", "AF-LIST-REASON", "REV-NOTE"}
#: Where reason codes are given: every context's pure rules, and the risk engine's use cases.
SOURCES = [*(ROOT / "src/xinbao").glob("*/model.py"), *(ROOT / "src/xinbao").glob("*/model/*.py"),
           *(ROOT / "src/xinbao/risk").glob("*.py")]


def documented() -> dict[str, list[str]]:
    text = DOC.read_text(encoding="utf-8")
    table = text.split("<!-- reason-codes:start -->")[1].split("<!-- reason-codes:end -->")[0]
    rows = [line.split("|")[1:-1] for line in table.strip().splitlines()[2:]]
    return {cells[0].strip().strip("`"): [c.strip() for c in cells] for cells in rows}


def in_code() -> set[str]:
    found = set()
    for path in SOURCES:
        found |= set(re.findall(r'"((?:UW|VER|AF|BUR|SCR|LIM|PRC|REV|SYS)-[A-Z0-9-]*)"',
                                path.read_text(encoding="utf-8")))
    found |= {r.code for r in load_antifraud_rules().rules}
    found = {"SCR-REASON-<FEATURE>" if c == "SCR-REASON-" else c for c in found}
    return found - INPUT_RULES - {"AF-"}  # the prefix every rule-set code must have


def test_every_code_the_engine_can_give_is_documented_and_no_other():
    assert set(documented()) == in_code()


def test_each_row_says_its_stage_action_rule_and_source():
    for code, (_, stage, action, rule, source) in documented().items():
        assert stage in {"verification", "antifraud", "bureau", "score", "limit", "price",
                         "review", "system"}, code
        assert action in {"decline", "refer", "pass"}, code
        assert rule and source, code


def test_the_rule_set_actions_match_the_documented_ones():
    rows = documented()
    for rule in load_antifraud_rules().rules:
        assert rows[rule.code][2] == rule.action.value, rule.code


def test_the_score_reasons_list_every_feature_the_scorecards_use():
    row = documented()["SCR-REASON-<FEATURE>"][3]
    assert {f.upper() for f in FEATURES} <= set(re.findall(r"`([A-Z_0-9]+)`", row))
