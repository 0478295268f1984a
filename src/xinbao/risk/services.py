"""The risk approval engine as use cases: decide applications, review referrals, keep the
portfolio limits, and the anti-fraud lists.

Deciding a batch of applications:

1. the credit bureau is asked for every borrower at once (concurrently, with a timeout);
2. anti-fraud facts are gathered in a few set queries: list hits, velocity counts per rule,
   and the identity rings of the batch and its neighbours;
3. collateral is valued; the model scores every application in one call;
4. the limit counters of the batch are read once; ``decision.assess`` decides each
   application against them, each approval taking its room from the batch's view, and its
   record is made;
5. only then does the batch write: the counters of new obligors are made, and the batch's
   approvals reserve their retained liability on every counter in one atomic step. If a
   concurrent transaction took the room meanwhile, that step changes nothing and each
   application is decided again, reserving alone (re-read and re-decided while the room
   keeps going to others, then referred). Decisions, status changes and quotes are written
   in bulk, in the same transaction. The write lock is so held only while the batch is
   written and committed, and another server process decides its own batch meanwhile.

An application the engine raises on at any step of its own (valuation, features, its score,
its limit keys, the assessment, a record storage cannot take) is referred to a person with
``SYS-DECISION-ERROR``, the error's type and place in its record, a ``DecisionFailed`` event
and an error in the log; it reserves nothing, and the rest of the batch is decided as if it
were not there (a domain refusal still refuses the whole command).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any, Protocol, TypeVar

import structlog

from xinbao.catalogue.model.agreements import insurer_share, risk_shares
from xinbao.catalogue.model.parties import PartyKind
from xinbao.catalogue.model.products import Product, ProductFamily
from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.errors import DomainError, require
from xinbao.kernel.events import Event
from xinbao.kernel.identity import region_of
from xinbao.kernel.retries import retried
from xinbao.ledger.model import ACCOUNTS, PAID_IN_CAPITAL, AccountType, Line
from xinbao.loans.model import Annualization, add_months
from xinbao.risk.identity_graph import IdentityGraph
from xinbao.risk.model import antifraud, exposure
from xinbao.risk.model import decision as rules
from xinbao.risk.model.antifraud import RuleSet
from xinbao.risk.model.bureau import BureauResult
from xinbao.risk.model.collateral import (
    BrandTier,
    CollateralRules,
    Valuation,
    value_car,
    value_house,
)
from xinbao.risk.model.decision import (
    Assessment,
    DecisionRecord,
    Outcome,
    RiskTerms,
    ScoreResult,
)
from xinbao.risk.model.exposure import Counter, LimitRules
from xinbao.risk.model.limits import BORROWER_CAP
from xinbao.risk.repository import UnitOfWork
from xinbao.underwriting.model import Application, CollateralKind

LIMIT_CONTENDED = "LIM-CONTENDED"
_RESERVE_TRIES = 5


@dataclass(frozen=True, slots=True)
class BureauQuery:
    id_number: str
    name: str
    kind: PartyKind
    on: date


class Bureau(Protocol):
    """The credit bureau connection (``risk/bureau.py``)."""

    def fetch_many(self, queries: Sequence[BureauQuery]) -> list[BureauResult]: ...


class Scorer(Protocol):
    """The model that turns features into a PD (``risk/model_store.py``, or the fallback
    of ``scoring/fallback.py`` until a model is promoted)."""

    def score(self, rows: Sequence[Mapping[str, Any]],
              keys: Sequence[int]) -> list[ScoreResult]: ...


@dataclass(frozen=True, slots=True)
class FallbackScore:
    base_score: int
    base_odds: Decimal
    pdo: Decimal
    thin_file_pd: Decimal


@dataclass(frozen=True, slots=True)
class BureauSettings:
    cost_fen: int
    timeout_s: float
    cache_days: int


@dataclass(frozen=True, slots=True)
class RiskParameters:
    """``params/risk.toml`` with the regulatory limits of ``params/regulatory.toml``."""

    version: str
    terms: Mapping[ProductFamily, RiskTerms]
    limits: LimitRules
    fallback: FallbackScore
    bureau: BureauSettings


@dataclass(frozen=True, slots=True)
class RiskEngine:
    """Everything a decision needs besides the database."""

    params: RiskParameters
    rule_set: RuleSet
    collateral: CollateralRules
    cost_cap: Decimal
    annualization: Annualization
    vat_rate: Decimal  # VAT on premium: in the all-in cost, and kept by each quote
    scorer: Scorer
    bureau: Bureau


@dataclass(frozen=True, slots=True)
class Decided:
    application: Application
    record: DecisionRecord


def decide(uow: UnitOfWork, engine: RiskEngine, batch: Sequence[Application],
           products: Mapping[tuple[str, int], Product], on: date) -> list[Decided]:
    """Decide submitted applications (inside the caller's transaction). An application the
    engine raises on (anything but a domain refusal) is referred ``SYS-DECISION-ERROR``
    with a ``DecisionFailed`` event, reserves nothing, and the rest are decided as if it
    were not in the batch."""
    if not batch:
        return []
    results = engine.bureau.fetch_many([BureauQuery(a.borrower.id_number, a.borrower.name,
                                                    a.borrower.kind, on) for a in batch])
    screenings = _screen(uow, engine.rule_set, batch, on)
    failed: dict[int, Exception] = {}
    every = range(len(batch))
    valuations = _each(failed, every, lambda i: _value(engine.collateral, batch[i], on))
    product_of = [products[(a.product_code, a.product_version)] for a in batch]
    features = _each(failed, every, lambda i: rules.features(
        batch[i], product_of[i], results[i], valuations[i], on))
    scores = _score(engine.scorer, batch, features, failed)
    basis = limit_basis(uow, engine.params.limits, on)
    funders = {f: require(uow.funders.get(f), "funder", f)
               for f in {a.funder_id for a in batch}}
    shares = {f: risk_share_of(uow, f) for f in funders}
    caps = exposure.caps(engine.params.limits, basis)
    keys_of = _each(failed, every, lambda i: limit_keys_for(
        uow, batch[i], product_of[i], funders[batch[i].funder_id].code, engine, basis, caps))
    state, missing = counters_for(uow, [c for wanted in keys_of.values() for c in wanted])
    facts = {i: rules.Facts(screening=screenings[i], bureau=results[i], scored=scores[i],
                            valuation=valuations[i], portfolio=(), cost_cap=engine.cost_cap,
                            annualization=engine.annualization, vat_rate=engine.vat_rate,
                            risk_share=shares[batch[i].funder_id])
             for i in keys_of}
    keys = {i: [(c.dimension, c.key) for c in wanted] for i, wanted in keys_of.items()}

    # Everything is assessed and recorded before the batch's first write, so the write lock
    # (SQLite's one writer, PostgreSQL's locks on the counters' rows) is held only while the
    # batch is written: the approvals are reserved together, in one step, against the
    # counters as read. If a concurrent transaction took the room meanwhile, that step
    # changes nothing and each application is decided again, reserving on its own against
    # fresh counters.
    planned: dict[tuple[str, str], int] = {}

    def plan(wanted: Sequence[tuple[str, str]], amount: int) -> bool:
        for k in wanted:
            planned[k] = planned.get(k, 0) + amount
        return True

    fresh = dict(state)
    assessed = _each(failed, every, lambda i: _assess(
        uow, engine, batch[i], product_of[i], facts[i], features[i], basis, on, keys[i],
        state, plan))
    if missing:  # the batch's first write
        uow.counters.ensure(missing, basis_fen=basis, on=on)
    if planned and not uow.counters.reserve_many(planned):
        fresh.update(uow.counters.get(list(fresh)))
        assessed = _each(failed, every, lambda i: _assess(
            uow, engine, batch[i], product_of[i], facts[i], features[i], basis, on, keys[i],
            fresh, uow.counters.reserve))
    decided = []
    for i, application in enumerate(batch):
        if i in failed:
            record = _failure(uow, engine, application, failed[i], results[i].source, on)
            application.decide(None, record.reason_codes, on)
        else:
            assessment, record = assessed[i]
            application.decide(assessment.outcome.approved, assessment.reason_codes, on)
        decided.append(Decided(application, record))
    uow.decisions.add_many([d.record for d in decided])
    return decided


_T = TypeVar("_T")


def _each(failed: dict[int, Exception], indices: Iterable[int],
          step: Callable[[int], _T]) -> dict[int, _T]:
    """``step`` for each application of the batch not failed yet; one that raises anything
    but a domain refusal is put in ``failed`` and left out of the later steps."""
    out = {}
    for i in indices:
        if i in failed:
            continue
        try:
            out[i] = step(i)
        except DomainError:
            raise
        except _PortFailed as exc:
            assert exc.__cause__ is not None
            raise exc.__cause__ from None
        except Exception as exc:  # noqa: BLE001 - the application is referred, see decide
            failed[i] = exc
    return out


class _PortFailed(Exception):
    """Carries an error of the database out of one application's step: it is the batch's
    (a lock, a lost connection), never a reason to refer that application."""


def _port(call: Callable[..., _T], *args: Any) -> _T:
    try:
        return call(*args)
    except DomainError:
        raise
    except Exception as exc:
        raise _PortFailed from exc


def _score(scorer: Scorer, batch: Sequence[Application],
           features: Mapping[int, Mapping[str, Any]],
           failed: dict[int, Exception]) -> dict[int, ScoreResult]:
    """The batch scored in one call; if the call raises, each application alone, so the one
    the model cannot take fails alone (if none can be scored, the model is broken rather
    than an application: the error is raised)."""
    ok = [i for i in features if i not in failed]
    if not ok:
        return {}
    try:
        return dict(zip(ok, scorer.score([features[i] for i in ok],
                                         [batch[i].id or 0 for i in ok]), strict=True))
    except DomainError:
        raise
    except Exception:
        alone = _each(failed, ok, lambda i: scorer.score([features[i]], [batch[i].id or 0])[0])
        if not alone:
            raise
        return alone


def _assess(uow: UnitOfWork, engine: RiskEngine, application: Application, product: Product,
            facts: rules.Facts, features: Mapping[str, Any], basis: int, on: date,
            keys: list[tuple[str, str]], state: dict[tuple[str, str], Counter],
            reserve: Callable[[Sequence[tuple[str, str]], int], bool],
            ) -> tuple[Assessment, DecisionRecord]:
    """Assess one application of the batch against ``state``, the batch's view of the limit
    counters, kept up to date with its own reservations (re-read when ``reserve`` finds that
    a concurrent transaction took the room). Its record is made, and checked storable,
    before it reserves."""
    terms = engine.params.terms[product.family]
    for attempt in range(_RESERVE_TRIES):
        if attempt:  # a concurrent approval took the room: read it again
            state.update(_port(uow.counters.get, keys))
        portfolio = exposure.constraints(
            [state[k] for k in keys], facts.insurer_share(product), rules=engine.params.limits,
            net_assets_fen=basis, enterprise=application.borrower.kind is PartyKind.ENTERPRISE)
        facts = replace(facts, portfolio=tuple(portfolio))
        assessment = rules.assess(application, product, terms, facts, on)
        record = _record(uow, engine, application, assessment, facts, features, on)
        if assessment.outcome.approved is not True:
            break
        amount = exposure.retained_fen(assessment.approved_fen, facts.insurer_share(product))
        if _port(reserve, keys, amount):
            for k in keys:
                c = state[k]
                state[k] = Counter(c.dimension, c.key, c.cap_fen, c.used_fen + amount)
            break
    else:  # the room kept going to concurrent approvals: let a person look
        assessment = Assessment(Outcome.REFER, (*assessment.findings, rules.Finding(
            "limit", LIMIT_CONTENDED, antifraud.Action.REFER,
            "the portfolio limits changed under concurrent approvals")),
            assessment.limit, assessment.price)
        record = _record(uow, engine, application, assessment, facts, features, on)
    return assessment, record


def _record(uow: UnitOfWork, engine: RiskEngine, application: Application,
            assessment: Assessment, facts: rules.Facts, features: Mapping[str, Any],
            on: date) -> DecisionRecord:
    price, scored = (None if assessment.outcome is Outcome.DECLINE else assessment.price,
                     facts.scored)
    assert application.id is not None
    record = DecisionRecord(
        application_id=application.id, outcome=assessment.outcome, decided_on=on,
        decided_by=uow.actor.actor, reason_codes=assessment.reason_codes,
        requested_fen=application.amount_fen,
        approved_fen=0 if assessment.outcome is Outcome.DECLINE else assessment.approved_fen,
        annual_premium_rate=price.annual_rate if price else None,
        monthly_premium_rate=price.monthly_rate if price else None,
        pd=scored.pd if scored else None, score=scored.score if scored else None,
        model=scored.model if scored else "none",
        rule_set_version=engine.rule_set.version, params_version=engine.params.version,
        detail=rules.detail(assessment, facts, _json_features(features),
                            application.borrower.kind),
        final=assessment.outcome is not Outcome.REFER, bureau_source=facts.bureau.source)
    rules.check_storable(record)
    return record


#: What of an error's message is kept: personal data (ID, phone and card numbers, names in
#: Chinese characters) never reaches the record or the log.
_PERSONAL = re.compile(r"[0-9Xx]{6,}|[\u3400-\u9fff]+")


def _failure(uow: UnitOfWork, engine: RiskEngine, application: Application,
             error: Exception, bureau_source: str, on: date) -> DecisionRecord:
    """The referral of an application the engine raised on, with a ``DecisionFailed``
    event, and an error line in the log (no personal data in either)."""
    assert application.id is not None
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    where = (f"{tb.tb_frame.f_globals.get('__name__', '?')}.{tb.tb_frame.f_code.co_name}"
             if tb is not None else "?")
    kind, message = type(error).__name__, _PERSONAL.sub("…", str(error))[:200]
    structlog.get_logger("xinbao.risk").error(
        "decision failed", application_id=application.id, error=kind, where=where)
    record = DecisionRecord(
        application_id=application.id, outcome=Outcome.REFER, decided_on=on,
        decided_by=uow.actor.actor, reason_codes=(rules.DECISION_ERROR,),
        requested_fen=application.amount_fen, approved_fen=0, annual_premium_rate=None,
        monthly_premium_rate=None, pd=None, score=None, model="none",
        rule_set_version=engine.rule_set.version, params_version=engine.params.version,
        detail=rules.failure_detail(kind, where, message, application.borrower.kind),
        final=False, bureau_source=bureau_source)
    record.events.append(Event("DecisionFailed", "application", application.id, on, {
        "reason_code": rules.DECISION_ERROR, "error": kind, "where": where}))
    return record


def _json_features(features: Mapping[str, Any]) -> dict[str, Any]:
    return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in features.items()}


def _value(collateral_rules: CollateralRules, a: Application, on: date) -> Valuation | None:
    c = a.collateral
    if c is None:
        return None
    try:
        if c.kind is CollateralKind.CAR:
            assert c.new_price_fen is not None and c.first_registered is not None
            assert c.brand_tier is not None
            return value_car(collateral_rules, new_price_fen=c.new_price_fen,
                             tier=BrandTier(c.brand_tier), first_registered=c.first_registered,
                             on=on)
        assert c.appraised_fen is not None and c.city_tier is not None
        return value_house(collateral_rules, appraised_fen=c.appraised_fen,
                           city_tier=c.city_tier)
    except DomainError:
        return None  # intake checked the offer; a value it cannot take counts as none


def _screen(uow: UnitOfWork, rule_set: RuleSet, batch: Sequence[Application],
            on: date) -> list[antifraud.Screening]:
    listed_fields = {str(r.field) for r in rule_set.rules if r.kind == "blacklist"}
    pairs = [(f, v) for a in batch for f in listed_fields
             if (v := a.value_of(str(f))) is not None]
    listed = uow.blacklist.listed(pairs) if pairs else set()
    windows = sorted({(str(r.field), r.window_days) for r in rule_set.rules
                      if r.kind == "velocity"})
    first, last = min(a.applied_on for a in batch), max(a.applied_on for a in batch)
    asks: dict[str, tuple[list[str], date]] = {}
    for name, window in windows:  # each field once, back to its longest window
        start = first - timedelta(days=window)
        asks[name] = ([v for a in batch if (v := a.value_of(name)) is not None],
                      min(start, asks[name][1]) if name in asks else start)
    seen = uow.risk.sightings(asks, last) if asks else {}
    velocity: dict[tuple[str, int], dict[int, antifraud.Velocity]] = {}
    for name, window in windows:
        counts: dict[int, antifraud.Velocity] = {}
        for a in batch:
            value = a.value_of(name)
            sightings = seen[name].get(value, []) if value is not None else []
            hits = [s for s in sightings
                    if a.applied_on - timedelta(days=window) <= s.applied_on <= a.applied_on]
            counts[a.id or 0] = antifraud.Velocity(len(hits), len({s.funder_id for s in hits}))
        velocity[(name, window)] = counts
    graph = None
    if any(r.kind == "ring" for r in rule_set.rules):
        ids = [a.id for a in batch if a.id is not None]
        graph = IdentityGraph(uow.risk.neighbourhood(ids, on, limit=max(500, 5 * len(ids))))
    out = []
    for a in batch:
        key = a.id or 0
        age = a.borrower.age_on(a.applied_on)
        facts = antifraud.Facts(
            blacklisted=frozenset(f for f in listed_fields if (f, a.value_of(str(f))) in listed),
            velocity={k: v[key] for k, v in velocity.items() if key in v},
            ring=graph.ring_of(key) if graph is not None and graph.has(key) else None,
            age_at_application=age,
            age_at_maturity=a.borrower.age_on(add_months(on, a.term_months))
            if age is not None else None)
        out.append(antifraud.screen(rule_set, facts))
    return out


def net_assets_fen(uow: UnitOfWork) -> int:
    """Assets less liabilities: the credit balance of equity, income and expense accounts."""
    return _net_assets(uow.ledger.lines())


def _net_assets(lines: Iterable[Line]) -> int:
    credit_normal = {code for code, a in ACCOUNTS.items()
                     if a.type in (AccountType.EQUITY, AccountType.INCOME, AccountType.EXPENSE)}
    return -sum(line.amount_fen for line in lines if line.account in credit_normal)


def limit_basis(uow: UnitOfWork, limit_rules: LimitRules, on: date) -> int:
    """The net assets the caps stand on; counted from the ledger the first time (once: a
    concurrent first decision waits for the lock and finds the count made)."""
    basis = uow.counters.basis() or uow.counters.lock(on)
    if basis is None:
        _refresh(uow, limit_rules, on)
        basis = uow.counters.basis()
    assert basis is not None
    return basis[0]


def limit_keys_for(uow: UnitOfWork, application: Application, product: Product,
                funder_code: str, engine: RiskEngine, basis: int,
                caps: Mapping[str, int]) -> list[Counter]:
    """The counters an application's liability counts against, with the caps they get when
    first made (``caps``: ``exposure.caps`` on ``basis``)."""
    enterprise = application.borrower.kind is PartyKind.ENTERPRISE
    obligor_cap = exposure.obligor_cap(engine.params.limits, basis, enterprise=enterprise)
    keys = exposure.limit_keys(
        funder=funder_code, region=region_of(application.borrower.id_number, enterprise=enterprise),
        industry=application.profile.industry, enterprise=enterprise, product=product.code,
        obligor=uow.risk.obligor_key(application.borrower.id_number))
    return [Counter(dimension, key, obligor_cap if dimension == exposure.OBLIGOR
                    else caps[dimension], 0) for dimension, key in keys]


def counters_for(uow: UnitOfWork, wanted: Sequence[Counter],
              ) -> tuple[dict[tuple[str, str], Counter], list[Counter]]:
    """The counters as they stand, with those not yet made as they will be made (unused, at
    the caps in ``wanted``), and the list of those: the caller makes them before it reserves
    (as made: if a concurrent transaction made one first and used it, the reservation's own
    check still holds the cap, and the batch is decided again on fresh counters)."""
    keys = list(dict.fromkeys((c.dimension, c.key) for c in wanted))
    found = uow.counters.get(keys)
    missing = list({(c.dimension, c.key): c for c in wanted
                    if (c.dimension, c.key) not in found}.values())
    found.update(((c.dimension, c.key), c) for c in missing)
    return found, missing


def risk_share_of(uow: UnitOfWork, funder_id: int) -> Decimal:
    """The share of each loss the funder keeps under its newest agreement version (0 for a
    funder from before agreements had versions): the insurer retains the rest."""
    versions = uow.funders.agreements(funder_id)
    return versions[-1].risk_share if versions else Decimal(0)


def _refresh(uow: UnitOfWork, limit_rules: LimitRules, on: date) -> list[Counter]:
    uow.counters.lock(on)
    basis = net_assets_fen(uow)
    caps = exposure.caps(limit_rules, basis)
    used: dict[tuple[str, str], int] = {(exposure.RETAINED, "all"): 0}
    for c in uow.counters.all():  # every portfolio counter keeps existing, at its new cap
        if c.dimension != exposure.OBLIGOR:
            used[(c.dimension, c.key)] = 0
    kinds: dict[str, bool] = {}
    shares = risk_shares(uow.funders.agreements())
    for row in uow.risk.exposure_rows():
        amount = exposure.retained_fen(row.principal_fen, insurer_share(
            row.coverage_share, shares.get(row.funder, Decimal(0))))
        for key in exposure.limit_keys(funder=row.funder, region=row.region,
                                       industry=row.industry, enterprise=row.enterprise,
                                       product=row.product, obligor=row.obligor):
            used[key] = used.get(key, 0) + amount
        kinds[row.obligor] = row.enterprise
    counters = [Counter(dim, key, exposure.obligor_cap(limit_rules, basis,
                                                       enterprise=kinds[key])
                        if dim == exposure.OBLIGOR else caps[dim], amount)
                for (dim, key), amount in sorted(used.items())]
    uow.counters.replace_all(counters, basis_fen=basis, on=on)
    return counters


@retried
def refresh_limits(uow: UnitOfWork, limit_rules: LimitRules, on: date) -> list[Counter]:
    """Recount every limit counter from the book and set the caps from today's net assets
    (end of day, after a capital change, or on demand)."""
    authorize(uow, Action.BATCH_RUN)
    with uow:
        counters = _refresh(uow, limit_rules, on)
        uow.events.add([Event("LimitsRefreshed", "portfolio", None, on, {
            "counters": len(counters),
            "retained_used_fen": next((c.used_fen for c in counters
                                       if c.dimension == exposure.RETAINED), 0)})])
        uow.commit()
    return counters


def limit_usage(uow: UnitOfWork) -> tuple[int | None, list[Counter]]:
    """The net assets the caps stand on and every counter, fullest first."""
    authorize(uow, Action.REPORT_READ)
    with uow:
        basis = uow.counters.basis()
        counters = uow.counters.all()
    return (basis[0] if basis else None,
            sorted(counters, key=lambda c: (-(c.used_fen / c.cap_fen) if c.cap_fen else 0,
                                            c.dimension, c.key)))


@dataclass(frozen=True, slots=True)
class Headroom:
    """One limit at today's net assets: its cap, what is used of it (the fullest counter
    under it: ``key``), and the room left. ``used_fen`` is None for a cap per obligor."""

    code: str
    dimension: str
    cap_fen: int
    used_fen: int | None = None
    key: str | None = None

    @property
    def room_fen(self) -> int | None:
        return None if self.used_fen is None else max(self.cap_fen - self.used_fen, 0)


@dataclass(frozen=True, slots=True)
class CapitalPosition:
    """Paid-in capital and net assets from the ledger, the retained liability, and the
    headroom of each limit on today's net assets. The caps the engine applies stand on
    ``basis_fen`` (set on ``basis_on``) until the limits are refreshed."""

    paid_in_fen: int
    net_assets_fen: int
    basis_fen: int | None
    basis_on: date | None
    retained_fen: int
    limits: tuple[Headroom, ...]
    fullest_obligor: Counter | None
    net_retained_fen: int = 0  # the retained liability less the quota shares' part of it

    @property
    def stale(self) -> bool:
        """Whether the caps in force stand on other net assets than today's."""
        return self.basis_fen is not None and self.basis_fen != self.net_assets_fen


def capital_position(uow: UnitOfWork, limit_rules: LimitRules, *,
                     ceded_share: Decimal = Decimal(0)) -> CapitalPosition:
    """``ceded_share``: the share of every risk the quota shares in force take (the
    reinsurance treaties are the caller's to read): the net retained liability leaves it
    out."""
    authorize(uow, Action.REPORT_READ)
    with uow:
        lines = list(uow.ledger.lines())
        basis = uow.counters.basis()
        fullest = {c.dimension: c for c in uow.counters.fullest()}
    net = _net_assets(lines)
    caps = exposure.caps(limit_rules, net)
    retained = fullest[exposure.RETAINED].used_fen if exposure.RETAINED in fullest else 0
    limits = [Headroom(exposure.CODES[exposure.RETAINED], exposure.RETAINED,
                       caps[exposure.RETAINED], retained)]
    for enterprise, kind in ((False, "individual"), (True, "enterprise")):
        cap = exposure.obligor_cap(limit_rules, net, enterprise=enterprise)
        per_borrower = (limit_rules.per_enterprise_cap_fen if enterprise
                        else limit_rules.per_individual_cap_fen)
        limits.append(Headroom(BORROWER_CAP if cap == per_borrower else exposure.SINGLE_OBLIGOR,
                               f"{exposure.OBLIGOR} ({kind})", cap))
    for dimension in exposure.CONCENTRATION:
        top = fullest.get(dimension)
        limits.append(Headroom(exposure.CODES[dimension], dimension, caps[dimension],
                               top.used_fen if top else 0, top.key if top else None))
    return CapitalPosition(
        paid_in_fen=-sum(line.amount_fen for line in lines if line.account == PAID_IN_CAPITAL),
        net_assets_fen=net, basis_fen=basis[0] if basis else None,
        basis_on=basis[1] if basis else None, retained_fen=retained, limits=tuple(limits),
        fullest_obligor=fullest.get(exposure.OBLIGOR),
        net_retained_fen=retained - exposure.retained_fen(retained, ceded_share))
