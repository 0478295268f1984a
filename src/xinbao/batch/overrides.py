"""A person's override of a loan's five-tier class (issue 21): set or lifted with a reason,
kept append-only (``classification_overrides``), in the audit trail, and applied by the
day's snapshot from its effective date (``BookDay.overrides`` → ``kernels.classify``:
``tier_basis`` ``override``, the reason in ``override_reason``).

Only a person decides one (a console user holding ``classification.override``: the risk
manager); the operator's and the system's principals are refused, since the row names the
user who set it. The loan's overrides are held while one is added, so that a retry or a
concurrent request with the same tier, reason and date finds the first one and adds nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime

from xinbao.batch.commands import LiftOverride, SetOverride
from xinbao.batch.model import TIER_LABELS, Tier
from xinbao.batch.repository import Override, OverrideUnitOfWork
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action, Forbidden
from xinbao.kernel.errors import FieldError, InvalidInput, NotFound, collect
from xinbao.kernel.events import Event
from xinbao.kernel.retries import retried

#: The fewest characters of an override's reason (the most: the column's 400).
REASON_MIN, REASON_MAX = 10, 400


@dataclass(frozen=True, slots=True)
class OverrideOutcome:
    override: Override
    added: bool  # False: the loan's newest row already said this (a retry), nothing added


def _check_reason(reason: str) -> FieldError | None:
    if not REASON_MIN <= len(reason.strip()) <= REASON_MAX:
        return FieldError("reason", "override.reason",
                          f"a reason of {REASON_MIN} to {REASON_MAX} characters is required")
    return None


def _check_tier(tier: object) -> FieldError | None:
    if isinstance(tier, bool) or not isinstance(tier, int) or tier not in set(map(int, Tier)):
        return FieldError("tier", "override.tier", "the tier is 1 (正常) to 5 (损失)")
    return None


@retried
def set_override(cmd: SetOverride, uow: OverrideUnitOfWork, *, now: datetime) -> OverrideOutcome:
    """Classify the loan in ``cmd.tier`` from ``cmd.effective_from``."""
    authorize(uow, Action.CLASSIFICATION_OVERRIDE)
    errors = collect(_check_tier(cmd.tier), _check_reason(cmd.reason))
    if errors:
        raise InvalidInput(errors)
    return _append(uow, cmd.loan_id, cmd.tier, cmd.reason.strip(), cmd.effective_from, now)


@retried
def lift_override(cmd: LiftOverride, uow: OverrideUnitOfWork, *,
                  now: datetime) -> OverrideOutcome:
    """Let the rules classify the loan again from ``cmd.effective_from``."""
    authorize(uow, Action.CLASSIFICATION_OVERRIDE)
    if (error := _check_reason(cmd.reason)) is not None:
        raise InvalidInput(error)
    return _append(uow, cmd.loan_id, None, cmd.reason.strip(), cmd.effective_from, now)


def list_overrides(uow: OverrideUnitOfWork, loan_id: int | None = None) -> list[Override]:
    """The overrides set and lifted, oldest first (of one loan, or all): the insurer's own
    risk view, read by whom may read its reports (not a funder's client)."""
    authorize(uow, Action.REPORT_READ)
    with uow:
        return uow.overrides.list(loan_id)


def _append(uow: OverrideUnitOfWork, loan_id: int, tier: int | None, reason: str,
            effective_from: date, now: datetime) -> OverrideOutcome:
    actor = uow.actor
    if actor.kind != "user":
        raise Forbidden(actor.actor, Action.CLASSIFICATION_OVERRIDE,
                        "an override is a person's decision: act as a console user")
    with uow:
        if not uow.overrides.lock(loan_id):
            raise NotFound("loan", loan_id)
        if not uow.overrides.carries_risk(loan_id):
            raise InvalidInput.single("loan_id", "override.loan",
                                      "the loan carries no risk: its policy is not in force")
        newest = uow.overrides.newest(loan_id)
        if newest is not None and (newest.tier, newest.reason, newest.effective_from) == (
                tier, reason, effective_from):
            return OverrideOutcome(newest, added=False)
        if tier is None and newest is None:
            raise InvalidInput.single("loan_id", "override.none",
                                      "the loan has no override to lift")
        user = uow.users.get_by_username(actor.name)
        if user is None or user.id is None:
            raise Forbidden(actor.actor, Action.CLASSIFICATION_OVERRIDE, "no such user")
        added = uow.overrides.add(loan_id, tier, reason, effective_from, set_by=user.id,
                                  set_at=_utc(now))
        uow.events.add([Event(
            "ClassificationOverridden" if tier is not None else "ClassificationOverrideLifted",
            "loan", loan_id, _utc(now).date(),
            {"override_id": added.id, "tier": tier,
             "tier_label": TIER_LABELS[Tier(tier)] if tier is not None else None,
             "reason": reason, "effective_from": effective_from.isoformat(),
             "previous_tier": newest.tier if newest is not None else None})])
        uow.commit()
    return OverrideOutcome(added, added=True)


def _utc(moment: datetime) -> datetime:
    """A naive UTC time, as the database keeps them."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo else moment
