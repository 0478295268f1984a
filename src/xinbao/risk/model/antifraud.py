"""Anti-fraud rules: a declarative, versioned rule set and its evaluation.

A rule set (``params/antifraud.toml``, reviewed like code) lists rules of four kinds:

- ``blacklist``: the applicant's value of a field (ID number, phone, bank card, device) is on
  a list;
- ``velocity``: more than ``max_count`` applications share the value of a field within
  ``window_days`` (optionally counted across funders only when several funders saw it);
- ``ring``: the application belongs to an identity ring (applications linked by shared phone,
  device, address, bank card or employer) of at least ``min_size``, linked through at least
  ``min_link_fields`` kinds of shared value (colleagues share an employer and nothing else),
  optionally with at least ``min_overdue_share`` of the ring already overdue;
- ``inconsistency``: a named check on the application itself (age at maturity, age at
  application).

Evaluation is pure: the facts (list hits, counts, ring figures) are gathered by the caller.
Every hit gives a reason code, the action (``refer`` or ``decline``) and its evidence.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum
from typing import Any

FIELDS = ("id_number", "phone", "bank_card", "device_id", "address", "employer")


class Action(StrEnum):
    PASS = "pass"
    REFER = "refer"
    DECLINE = "decline"

    @property
    def severity(self) -> int:
        return {"pass": 0, "refer": 1, "decline": 2}[self.value]


@dataclass(frozen=True, slots=True)
class Rule:
    code: str
    kind: str  # blacklist | velocity | ring | inconsistency
    action: Action
    description: str
    field: str | None = None  # blacklist, velocity
    window_days: int = 0  # velocity
    max_count: int = 0  # velocity: more than this many applications is a hit
    across_funders: bool = False  # velocity: only when more than one funder saw the value
    min_size: int = 0  # ring
    min_link_fields: int = 1  # ring: kinds of shared value (phone, device, …) linking it
    min_overdue_share: Decimal | None = None  # ring
    check: str | None = None  # inconsistency
    limit: int = 0  # inconsistency: the bound of the check


@dataclass(frozen=True, slots=True)
class RuleSet:
    version: str
    source: str
    rules: tuple[Rule, ...]


_CHECKS = {"age_at_maturity_above", "age_at_application_below"}


class RuleSetError(ValueError):
    """The rule set is malformed; the message names the rule and the key."""


def parse_rule_set(data: Mapping[str, Any]) -> RuleSet:
    """A rule set from its TOML data, every rule checked (codes unique, keys known)."""
    if data.get("format") != 1:
        raise RuleSetError("rule set format must be 1")
    rules, seen = [], set()
    for i, raw in enumerate(data.get("rule", [])):
        where = f"rule {i + 1} ({raw.get('code', '?')})"
        code = raw.get("code", "")
        if not code.startswith("AF-") or code in seen:
            raise RuleSetError(f"{where}: codes start with AF- and are unique")
        seen.add(code)
        try:
            rule = Rule(code=code, kind=raw["kind"], action=Action(raw["action"]),
                        description=raw["description"], field=raw.get("field"),
                        window_days=int(raw.get("window_days", 0)),
                        max_count=int(raw.get("max_count", 0)),
                        across_funders=bool(raw.get("across_funders", False)),
                        min_size=int(raw.get("min_size", 0)),
                        min_link_fields=int(raw.get("min_link_fields", 1)),
                        min_overdue_share=(Decimal(str(raw["min_overdue_share"]))
                                           if "min_overdue_share" in raw else None),
                        check=raw.get("check"), limit=int(raw.get("limit", 0)))
        except (KeyError, ValueError) as exc:
            raise RuleSetError(f"{where}: {exc}") from None
        _check(rule, where)
        rules.append(rule)
    return RuleSet(str(data["version"]), str(data.get("source", "")), tuple(rules))


def _check(rule: Rule, where: str) -> None:
    if rule.action is Action.PASS:
        raise RuleSetError(f"{where}: a rule refers or declines")
    if rule.kind in ("blacklist", "velocity") and rule.field not in FIELDS:
        raise RuleSetError(f"{where}: field is one of {', '.join(FIELDS)}")
    if rule.kind == "velocity" and (rule.window_days < 1 or rule.max_count < 1):
        raise RuleSetError(f"{where}: velocity needs window_days and max_count of at least 1")
    if rule.kind == "ring" and rule.min_size < 2:
        raise RuleSetError(f"{where}: a ring has at least 2 applications")
    if rule.kind == "inconsistency" and rule.check not in _CHECKS:
        raise RuleSetError(f"{where}: check is one of {', '.join(sorted(_CHECKS))}")
    if rule.kind not in ("blacklist", "velocity", "ring", "inconsistency"):
        raise RuleSetError(f"{where}: kind is blacklist, velocity, ring or inconsistency")


@dataclass(frozen=True, slots=True)
class Velocity:
    applications: int  # sharing the value within the window, this one included
    funders: int  # distinct funders among them


@dataclass(frozen=True, slots=True)
class Ring:
    size: int  # applications in the ring, this one included
    overdue_share: Decimal  # share of the ring's other loans already past due
    linked_by: tuple[str, ...]  # the fields the links go through


@dataclass(frozen=True, slots=True)
class Facts:
    """What the rules look at, gathered for one application."""

    blacklisted: frozenset[str] = frozenset()  # fields whose value is on a list
    velocity: Mapping[tuple[str, int], Velocity] = field(default_factory=dict)  # (field, days)
    ring: Ring | None = None
    age_at_application: int | None = None
    age_at_maturity: int | None = None


@dataclass(frozen=True, slots=True)
class Hit:
    code: str
    action: Action
    evidence: str


@dataclass(frozen=True, slots=True)
class Screening:
    rule_set_version: str
    action: Action  # the most severe hit, or pass
    hits: tuple[Hit, ...]

    @property
    def reason_codes(self) -> tuple[str, ...]:
        return tuple(h.code for h in self.hits)


def _hit(rule: Rule, facts: Facts) -> str | None:
    """The evidence when the rule fires, else None."""
    if rule.kind == "blacklist":
        return f"{rule.field} is on a list" if rule.field in facts.blacklisted else None
    if rule.kind == "velocity":
        v = facts.velocity.get((str(rule.field), rule.window_days))
        if v is None or v.applications <= rule.max_count:
            return None
        if rule.across_funders and v.funders < 2:
            return None
        return (f"{v.applications} applications share the {rule.field} within "
                f"{rule.window_days} days, at {v.funders} funder(s)")
    if rule.kind == "ring":
        ring = facts.ring
        if (ring is None or ring.size < rule.min_size
                or len(ring.linked_by) < rule.min_link_fields):
            return None
        if rule.min_overdue_share is not None and ring.overdue_share < rule.min_overdue_share:
            return None
        return (f"identity ring of {ring.size} applications linked by "
                f"{', '.join(ring.linked_by) or 'nothing'}; {ring.overdue_share:.0%} overdue")
    if rule.check == "age_at_maturity_above":
        age = facts.age_at_maturity
        return (f"{age} years old at maturity, above {rule.limit}"
                if age is not None and age > rule.limit else None)
    age = facts.age_at_application
    return (f"{age} years old at application, below {rule.limit}"
            if age is not None and age < rule.limit else None)


def screen(rule_set: RuleSet, facts: Facts) -> Screening:
    """Every rule against the facts; the outcome is the most severe action among the hits."""
    hits = []
    for rule in rule_set.rules:
        evidence = _hit(rule, facts)
        if evidence is not None:
            hits.append(Hit(rule.code, rule.action, evidence))
    worst = max((h.action for h in hits), key=lambda a: a.severity, default=Action.PASS)
    return Screening(rule_set.version, worst, tuple(hits))


@dataclass(frozen=True, slots=True)
class Node:
    """An application in the identity graph: the keys of the values it gave, and whether its
    loan is overdue."""
    application_id: int
    values: Mapping[str, str | None]  # field -> key of the value (None: not given)
    overdue: bool = False
