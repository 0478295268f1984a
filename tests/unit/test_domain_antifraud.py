"""The anti-fraud rule set: the shipped one parses, each kind of rule fires on its facts
and only then, the outcome is the most severe hit; rings come from the identity graph."""

from __future__ import annotations

from decimal import Decimal

import pytest

from xinbao.parameters import load_antifraud_rules
from xinbao.risk.identity_graph import IdentityGraph
from xinbao.risk.model.antifraud import (
    Action,
    Facts,
    Node,
    Ring,
    RuleSetError,
    Velocity,
    parse_rule_set,
    screen,
)

RULES = load_antifraud_rules()


def test_the_shipped_rule_set_parses_with_unique_codes_and_a_version():
    codes = [r.code for r in RULES.rules]
    assert len(codes) == len(set(codes)) >= 10 and RULES.version
    assert {r.kind for r in RULES.rules} == {"blacklist", "velocity", "ring", "inconsistency"}


def test_a_clean_application_passes_with_no_hits():
    result = screen(RULES, Facts(age_at_application=30, age_at_maturity=31))
    assert (result.action, result.hits) == (Action.PASS, ())


def test_a_blacklisted_id_number_is_declined_with_its_evidence():
    result = screen(RULES, Facts(blacklisted=frozenset({"id_number"})))
    assert result.action is Action.DECLINE
    assert result.reason_codes == ("AF-BLACKLIST-ID",)
    assert result.hits[0].evidence == "id_number is on a list"


def test_velocity_fires_above_the_count_and_across_funders_only_when_several_saw_it():
    one_funder = Facts(velocity={("id_number", 7): Velocity(applications=3, funders=1)})
    assert "AF-VELOCITY-ID-7D" not in screen(RULES, one_funder).reason_codes
    two_funders = Facts(velocity={("id_number", 7): Velocity(applications=3, funders=2)})
    result = screen(RULES, two_funders)
    assert result.reason_codes == ("AF-VELOCITY-ID-7D",) and result.action is Action.REFER
    at_limit = Facts(velocity={("phone", 30): Velocity(applications=3, funders=1)})
    assert screen(RULES, at_limit).hits == ()


def test_a_ring_is_referred_by_size_and_declined_when_much_of_it_is_overdue():
    big = screen(RULES, Facts(ring=Ring(6, Decimal("0.1"), ("bank_card", "phone"))))
    assert big.reason_codes == ("AF-RING-SIZE",) and big.action is Action.REFER
    bad = screen(RULES, Facts(ring=Ring(6, Decimal("0.5"), ("device_id", "phone"))))
    assert bad.reason_codes == ("AF-RING-SIZE", "AF-RING-OVERDUE")
    assert bad.action is Action.DECLINE
    assert "linked by device_id, phone; 50% overdue" in bad.hits[1].evidence


def test_colleagues_linked_only_by_their_employer_are_not_a_ring():
    colleagues = Facts(ring=Ring(40, Decimal("0.5"), ("employer",)))
    assert screen(RULES, colleagues).hits == ()


def test_ages_outside_the_bounds_are_declined():
    result = screen(RULES, Facts(age_at_application=17, age_at_maturity=70))
    assert set(result.reason_codes) == {"AF-AGE-AT-MATURITY", "AF-AGE-AT-APPLICATION"}


@pytest.mark.parametrize(("rule", "message"), [
    ({"code": "X-1", "kind": "ring", "min_size": 3, "action": "refer", "description": ""},
     "start with AF-"),
    ({"code": "AF-1", "kind": "velocity", "field": "shoe", "window_days": 1, "max_count": 1,
      "action": "refer", "description": ""}, "field is one of"),
    ({"code": "AF-1", "kind": "ring", "min_size": 1, "action": "refer", "description": ""},
     "at least 2"),
    ({"code": "AF-1", "kind": "ring", "min_size": 3, "action": "pass", "description": ""},
     "refers or declines"),
    ({"code": "AF-1", "kind": "ring", "min_size": 3, "action": "refer"}, "description"),
])
def test_a_malformed_rule_is_refused_naming_it(rule, message):
    with pytest.raises(RuleSetError, match=message):
        parse_rule_set({"format": 1, "version": "t", "rule": [rule]})


def test_the_identity_graph_joins_applications_through_any_shared_value():
    graph = IdentityGraph([
        Node(1, {"phone": "p1", "device_id": "d1"}),
        Node(2, {"phone": "p1"}, overdue=True),
        Node(3, {"device_id": "d1", "employer": "e9"}, overdue=True),
        Node(4, {"employer": "e9"}),
        Node(5, {"phone": "p5"}),
    ])
    assert graph.rings() == [[1, 2, 3, 4]]
    ring = graph.ring_of(1)
    assert ring.size == 4 and ring.linked_by == ("device_id", "employer", "phone")
    assert ring.overdue_share == Decimal(2) / 3
    assert graph.ring_of(5) == Ring(1, Decimal(0), ())
