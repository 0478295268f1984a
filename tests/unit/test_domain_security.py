"""Roles, the authority matrix and four-eyes, as pure rules."""

from __future__ import annotations

import pytest

from xinbao.iam.model.security import (
    AUTHORITY,
    WRITES,
    Action,
    Forbidden,
    Principal,
    Role,
    check_four_eyes,
    system,
    validate_roles,
)


def staff(*roles: Role, name: str = "li.na") -> Principal:
    return Principal("user", name, frozenset(roles))


def test_every_role_is_in_the_matrix_and_the_auditor_cannot_change_anything():
    assert set(AUTHORITY) == set(Role)
    assert not set(AUTHORITY[Role.AUDITOR]) & WRITES
    assert Action.AUDIT_READ in AUTHORITY[Role.AUDITOR]


def test_a_role_without_the_action_is_refused_naming_actor_and_action():
    with pytest.raises(Forbidden, match=r"user:li.na may not claim.pay: no role grants it"):
        staff(Role.UNDERWRITER).check(Action.CLAIM_PAY, 100)


@pytest.mark.parametrize(("amount", "allowed"), [(5_000_000, True), (5_000_001, False)])
def test_an_adjuster_pays_claims_up_to_the_limit_and_not_a_fen_more(amount, allowed):
    adjuster = staff(Role.CLAIMS_ADJUSTER)
    assert adjuster.may(Action.CLAIM_PAY, amount) is allowed
    if allowed:
        adjuster.check(Action.CLAIM_PAY, amount)
    else:
        with pytest.raises(Forbidden, match="above the authority limit of 5000000 fen"):
            adjuster.check(Action.CLAIM_PAY, amount)


def test_the_highest_limit_of_a_users_roles_applies():
    both = staff(Role.CLAIMS_ADJUSTER, Role.CLAIMS_APPROVER)
    assert both.limit(Action.CLAIM_PAY) == (True, 300_000_000)
    assert both.may(Action.CLAIM_PAY, 200_000_000)


def test_the_system_passes_every_check_and_a_principal_without_roles_none():
    for action in Action:
        system("eod").check(action, 10**15)
        assert not Principal("user", "nobody").may(action)


def test_a_funder_sees_only_its_own_funder_and_staff_see_all():
    funder = Principal("client", "bank-a", frozenset({Role.FUNDER}), funder_id=1)
    assert funder.sees_funder(1) and not funder.sees_funder(2)
    assert staff(Role.AUDITOR).sees_funder(2)


def test_four_eyes_refuses_the_maker_as_checker_but_not_another_person_or_the_system():
    with pytest.raises(Forbidden, match="four-eyes"):
        check_four_eyes(staff(Role.CLAIMS_APPROVER), {"user:li.na"}, Action.CLAIM_PAY)
    check_four_eyes(staff(Role.CLAIMS_APPROVER, name="wang.wu"), {"user:li.na"},
                    Action.CLAIM_PAY)
    check_four_eyes(system("eod"), {"system:eod"}, Action.CLAIM_PAY)


@pytest.mark.parametrize(("roles", "funder_id", "problem"), [
    (set(), None, "at least one role"),
    ({Role.FUNDER}, None, "needs the funder"),
    ({Role.FUNDER, Role.FINANCE}, 1, "cannot be combined"),
    ({Role.FINANCE}, 1, "only the funder role"),
])
def test_role_assignments_that_would_blur_tenants_are_refused(roles, funder_id, problem):
    assert any(problem in p for p in validate_roles(roles, funder_id))
    assert validate_roles({Role.FUNDER}, 1) == []
