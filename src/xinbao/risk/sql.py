"""SQL repositories of the risk approval engine: decisions, limit counters, the blacklist, and
the anti-fraud look-ups over applications (velocity, identity rings).

Personal values are never compared in clear: phones, cards, devices, addresses and employers
are matched by their keyed blind indexes (``PiiCipher.blind_index``).
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    and_,
    bindparam,
    func,
    insert,
    literal,
    or_,
    select,
    text,
    union_all,
    update,
)

from xinbao.catalogue import tables as catalogue_tables
from xinbao.kernel.events import Event
from xinbao.kernel.paging import Page, PageRequest
from xinbao.loans import tables as loans_tables
from xinbao.platform.crypto import PiiCipher
from xinbao.platform.database import before_savepoint
from xinbao.platform.prepared import Prepared
from xinbao.platform.sql_lists import in_list
from xinbao.policy import tables as policy_tables
from xinbao.policy.model import PolicyStatus
from xinbao.risk import tables
from xinbao.risk.identity_graph import LINK_FIELDS
from xinbao.risk.model.antifraud import Node
from xinbao.risk.model.decision import DecisionRecord, Outcome, Review
from xinbao.risk.model.exposure import Counter
from xinbao.risk.repository import ExposureRow, ListedValue, Sighting
from xinbao.underwriting import tables as underwriting_tables

if TYPE_CHECKING:
    from sqlalchemy.dialects import postgresql, sqlite
from xinbao.underwriting.rows import FIELD_INDEX

TOTAL = ("retained", "all")


@functools.cache
def _statements() -> dict[str, Prepared]:
    """Statements built once and run on the driver's cursor (``platform.prepared``): per
    call only their parameters change (key lists)."""
    a, p = underwriting_tables.applications, policy_tables.policies
    ln, t = loans_tables.loans, tables.risk_counters
    out: dict[str, Any] = {}
    # Every anti-fraud field at once, each with its own values and window start.
    out["sightings"] = union_all(*(
        select(literal(name).label("field"), a.c[column].label("key"), a.c.id,
               a.c.applied_on, a.c.funder_id)
        .where(in_list(a.c[column], f"keys_{name}"),
               a.c.applied_on >= bindparam(f"start_{name}"),
               a.c.applied_on <= bindparam("end"))
        for name, (column, _) in FIELD_INDEX.items()))
    columns = [a.c[FIELD_INDEX[f][0]] for f in LINK_FIELDS]
    first_unpaid = ln.c.first_unpaid_due_date
    overdue = and_(first_unpaid.is_not(None), first_unpaid < bindparam("on"))
    base = (select(a.c.id, *columns, overdue.label("overdue"))
            .select_from(a.outerjoin(p, p.c.application_id == a.c.id)
                         .outerjoin(ln, ln.c.id == p.c.loan_id)))
    out["nodes"] = base.where(in_list(a.c.id, "ids"))
    out["linked"] = (base.where(or_(*(in_list(a.c[FIELD_INDEX[f][0]], f"k_{f}")
                                      for f in LINK_FIELDS)))
        .order_by(a.c.id).limit(bindparam("limit")))
    # Two IN lists, so that both databases look each pair up by the primary key (a row-value
    # IN scans the table on SQLite); pairs not asked for are dropped by the caller.
    out["counters"] = select(t).where(in_list(t.c.dimension, "dims"), in_list(t.c.key, "keys"))
    out["basis"] = select(t.c.basis_fen, t.c.updated_on).where(t.c.dimension == TOTAL[0],
                                                                t.c.key == TOTAL[1])
    bl = tables.blacklist
    # By field and key, so that the (field, value_index) unique index finds each pair: the
    # key alone is not that index's first column, and the whole list was scanned.
    out["listed"] = select(bl.c.field, bl.c.value_index).where(
        in_list(bl.c.field, "fields"), in_list(bl.c.value_index, "keys"),
        bl.c.active.is_(True))
    out["reserve"] = (update(t).where(t.c.dimension == bindparam("d"),
                                      t.c.key == bindparam("k"),
                                      t.c.used_fen + bindparam("x") <= t.c.cap_fen)
                      .values(used_fen=t.c.used_fen + bindparam("x")))
    out["decisions"] = insert(tables.decisions)
    # The reservation's own savepoint, sent as SQL: SQLAlchemy's nested transaction compiled
    # and ran its SAVEPOINT and RELEASE through the whole execution path, 0.4 ms a batch.
    out["savepoint"] = text("SAVEPOINT xinbao_reserve")
    out["release"] = text("RELEASE SAVEPOINT xinbao_reserve")
    out["undo"] = text("ROLLBACK TO SAVEPOINT xinbao_reserve")
    return {name: Prepared(statement) for name, statement in out.items()}


@functools.cache
def _counter_inserts(dialect: str) -> dict[str, Any]:
    """The limit counters' inserts in the database's own dialect (``ON CONFLICT``)."""
    insert: postgresql.Insert | sqlite.Insert
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as postgresql_insert
        insert = postgresql_insert(tables.risk_counters)
    else:
        from sqlalchemy.dialects.sqlite import insert as sqlite_insert
        insert = sqlite_insert(tables.risk_counters)
    return {"insert": insert,
            "ensure": Prepared(insert.on_conflict_do_nothing(
                index_elements=["dimension", "key"]))}


class SqlRiskRepository:
    """Look-ups over applications and policies for anti-fraud and the limit counters."""

    def __init__(self, connection: Connection, cipher: PiiCipher) -> None:
        self._c = connection
        self._cipher = cipher

    def _key(self, name: str, value: str | None) -> str | None:
        return self._cipher.blind_index(value, field=FIELD_INDEX[name][1])

    def sightings(self, asks: Mapping[str, tuple[Iterable[str], date]],
                  end: date) -> dict[str, dict[str, list[Sighting]]]:
        """For each anti-fraud field asked (its values and window start), the applications
        giving each value, applied for between the start and ``end``: one statement for all
        the fields (more only past 900 values of a field)."""
        keys = {name: {self._key(name, v): v for v in set(values) if v}
                for name, (values, _) in asks.items()}
        out: dict[str, dict[str, list[Sighting]]] = {name: {} for name in asks}
        rounds = max((len(k) for k in keys.values()), default=0)
        for lo in range(0, rounds, 900):
            params: dict[str, Any] = {"end": end}
            for name in FIELD_INDEX:
                chosen = list(keys.get(name, {}))[lo:lo + 900]
                params[f"keys_{name}"] = chosen
                params[f"start_{name}"] = asks[name][1] if name in asks else end
            for field_name, key, app_id, applied_on, funder_id in _statements()[
                    "sightings"].all(self._c, params):
                out[field_name].setdefault(keys[field_name][key], []).append(
                    Sighting(app_id, applied_on, funder_id))
        return out

    def neighbourhood(self, application_ids: Sequence[int], on: date, *, hops: int = 2,
                      limit: int = 500) -> list[Node]:
        """The applications linked to these (through shared phone, device, address, card or
        employer) up to ``hops`` links away, at most ``limit`` of them, with whether each
        one's loan is past due on ``on``."""
        statements = _statements()
        nodes: dict[int, Node] = {}

        def add(rows: Iterable[Any]) -> None:
            for r in rows:
                if r.id not in nodes and len(nodes) < limit:
                    nodes[r.id] = Node(r.id, {f: getattr(r, FIELD_INDEX[f][0])
                                              for f in LINK_FIELDS}, bool(r.overdue))

        ids = list(application_ids)
        for lo in range(0, len(ids), 900):
            add(statements["nodes"].all(self._c, {"ids": ids[lo:lo + 900], "on": on}))
        frontier = list(nodes.values())
        for _ in range(hops):
            wanted: dict[str, set[str]] = {f: set() for f in LINK_FIELDS}
            for node in frontier:
                for f in LINK_FIELDS:
                    value = node.values.get(f)
                    if value:
                        wanted[f].add(value)
            if not any(wanted.values()) or len(nodes) >= limit:
                break
            before = set(nodes)
            params: dict[str, Any] = {f"k_{f}": sorted(keys)[:900] or [""]
                                      for f, keys in wanted.items()}
            params.update(on=on, limit=limit - len(nodes) + len(before))
            add(statements["linked"].all(self._c, params))
            frontier = [n for i, n in nodes.items() if i not in before]
        return list(nodes.values())

    def exposure_rows(self) -> list[ExposureRow]:
        """Each live policy's retained liability now: the outstanding principal of its loan,
        its principal less every repayment's (a partial prepayment's too), or the principal
        insured while quoted or not yet disbursed, × the insurer's share."""
        a, p = underwriting_tables.applications, policy_tables.policies
        f, r = catalogue_tables.funders, loans_tables.repayments
        ln = loans_tables.loans
        live = (PolicyStatus.QUOTED.value, PolicyStatus.ISSUED.value,
                PolicyStatus.IN_FORCE.value)
        repaid = (select(r.c.loan_id, func.sum(r.c.principal_fen).label("repaid"))
                  .group_by(r.c.loan_id).subquery())
        q = (select(a.c.borrower_id_index, a.c.borrower_kind, f.c.code, a.c.region,
                    a.c.industry, p.c.product_code,
                    func.coalesce(ln.c.principal_fen, p.c.principal_insured_fen).label("principal"),
                    p.c.coverage_share, func.coalesce(repaid.c.repaid, 0).label("repaid"))
             .select_from(p.join(a, a.c.id == p.c.application_id)
                          .join(f, f.c.id == p.c.funder_id)
                          .outerjoin(ln, ln.c.id == p.c.loan_id)
                          .outerjoin(repaid, repaid.c.loan_id == p.c.loan_id))
             .where(p.c.status.in_(live)))
        out = []
        for row in self._c.execute(q):
            outstanding = max(int(row.principal) - int(row.repaid), 0)
            out.append(ExposureRow(
                obligor=row.borrower_id_index, enterprise=row.borrower_kind == "enterprise",
                funder=row.code, region=row.region, industry=row.industry,
                product=row.product_code, principal_fen=outstanding,
                coverage_share=Decimal(row.coverage_share)))
        return out

    def obligor_key(self, id_number: str) -> str:
        key = self._key("id_number", id_number)
        assert key is not None
        return key


class SqlBlacklistRepository:
    def __init__(self, connection: Connection, cipher: PiiCipher) -> None:
        self._c = connection
        self._cipher = cipher

    def _key(self, name: str, value: str) -> str:
        key = self._cipher.blind_index(value, field=FIELD_INDEX[name][1])
        assert key is not None
        return key

    def listed(self, pairs: Iterable[tuple[str, str]]) -> set[tuple[str, str]]:
        """The (field, value) pairs that are on an active list."""
        by_key = {(name, self._key(name, value)): (name, value) for name, value in set(pairs)
                  if value}
        if not by_key:
            return set()
        found: set[tuple[str, str]] = set()
        keys = sorted({k for _, k in by_key})
        fields = sorted({name for name, _ in by_key})
        for lo in range(0, len(keys), 900):
            rows = _statements()["listed"].all(self._c, {"fields": fields,
                                                         "keys": keys[lo:lo + 900]})
            found.update(by_key[(name, key)] for name, key in rows if (name, key) in by_key)
        return found

    def add(self, name: str, value: str, *, reason: str, on: date, by: str) -> bool:
        """List a value; False when it was listed already (it is made active again)."""
        t, key = tables.blacklist, self._key(name, value)
        row = self._c.execute(select(t.c.id, t.c.active).where(
            t.c.field == name, t.c.value_index == key)).first()
        if row is not None:
            self._c.execute(update(t).where(t.c.id == row.id).values(
                active=True, reason=reason, added_on=on, added_by=by))
            return not row.active
        self._c.execute(insert(t), {"field": name, "value_index": key, "reason": reason,
                                    "added_on": on, "added_by": by, "active": True})
        return True

    def remove(self, name: str, value: str) -> bool:
        t = tables.blacklist
        done = self._c.execute(update(t).where(
            t.c.field == name, t.c.value_index == self._key(name, value),
            t.c.active.is_(True)).values(active=False))
        return bool(done.rowcount)

    def entries(self) -> list[ListedValue]:
        t = tables.blacklist
        return [ListedValue(r.id, r.field, r.value_index[:12], r.reason, r.added_on,
                            r.added_by)
                for r in self._c.execute(select(t).where(t.c.active.is_(True))
                                         .order_by(t.c.id))]


class SqlCounterRepository:
    """Limit counters. ``reserve_many`` (and ``reserve``, for one amount) is the atomic step:
    one conditional UPDATE per counter (``used + x <= cap``) inside a savepoint, the total
    (``retained``) first and the rest in key order, so two transactions never wait on each
    other in a circle. On PostgreSQL a concurrent writer
    waits for the row and re-checks the condition against the committed value; SQLite
    serializes writers. A recount (``replace_all``) first locks the total's row, so it never
    interleaves with a reservation."""

    def __init__(self, connection: Connection) -> None:
        self._c = connection

    @staticmethod
    def _from_row(r: Any) -> Counter:
        return Counter(r.dimension, r.key, r.cap_fen, r.used_fen)

    @staticmethod
    def _order(keys: Iterable[tuple[str, str]]) -> list[tuple[str, str]]:
        return sorted(set(keys), key=lambda k: (k != TOTAL, k))

    def _insert(self) -> Any:
        return _counter_inserts(self._c.dialect.name)["insert"]

    def get(self, keys: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Counter]:
        wanted = set(keys)
        names = sorted({key for _, key in wanted})
        dims = sorted({dimension for dimension, _ in wanted})
        out: dict[tuple[str, str], Counter] = {}
        statement = _statements()["counters"]
        for lo in range(0, len(names), 900):
            for r in statement.all(self._c, {"dims": dims, "keys": names[lo:lo + 900]}):
                if (r.dimension, r.key) in wanted:
                    out[(r.dimension, r.key)] = self._from_row(r)
        return out

    def basis(self) -> tuple[int, date] | None:
        """The net assets the caps were last set from, and when (None: never set)."""
        r = _statements()["basis"].first(self._c)
        return (r.basis_fen, r.updated_on) if r and r.basis_fen >= 0 else None

    def lock(self, on: date) -> tuple[int, date] | None:
        """Hold the total's row until the transaction ends (made, unset, if missing); the
        basis as it stands once the lock is held."""
        t = tables.risk_counters
        _counter_inserts(self._c.dialect.name)["ensure"].execute(self._c, {
                "dimension": TOTAL[0], "key": TOTAL[1], "cap_fen": 0, "used_fen": 0,
                "basis_fen": -1, "updated_on": on})
        q = select(t.c.basis_fen, t.c.updated_on).where(t.c.dimension == TOTAL[0],
                                                         t.c.key == TOTAL[1])
        if self._c.dialect.name == "postgresql":
            q = q.with_for_update()
        r = self._c.execute(q).one()
        return (r.basis_fen, r.updated_on) if r.basis_fen >= 0 else None

    def ensure(self, counters: Iterable[Counter], *, basis_fen: int, on: date) -> None:
        """Create the counters that do not exist yet (existing ones are left as they are;
        two transactions creating the same one both succeed). Rows go in key order, as in a
        reservation: on PostgreSQL a transaction inserting a key another one has inserted
        but not committed waits for it, and two that met in opposite orders would deadlock."""
        by_key = {(c.dimension, c.key): c for c in counters}
        rows = [{"dimension": c.dimension, "key": c.key, "cap_fen": c.cap_fen,
                 "used_fen": c.used_fen, "basis_fen": basis_fen, "updated_on": on}
                for c in (by_key[k] for k in self._order(by_key))]
        if rows:
            _counter_inserts(self._c.dialect.name)["ensure"].execute_many(self._c, rows)

    def reserve(self, keys: Sequence[tuple[str, str]], amount_fen: int) -> bool:
        """Add ``amount_fen`` to every counter, or to none when any would pass its cap."""
        return self.reserve_many(dict.fromkeys(keys, amount_fen))

    def reserve_many(self, amounts: Mapping[tuple[str, str], int]) -> bool:
        """Add each amount to its counter, or nothing when any would pass its cap: one
        conditional UPDATE per counter, sent together, inside a savepoint that is rolled back
        when any counter refused."""
        rows = [{"d": dim, "k": key, "x": amounts[(dim, key)]}
                for dim, key in self._order(amounts) if amounts[(dim, key)]]
        if not rows:
            return True
        statements = _statements()
        statement = statements["reserve"]
        before_savepoint(self._c)
        statements["savepoint"].execute(self._c)
        done = False
        try:
            if len(rows) > 1 and self._c.dialect.supports_sane_multi_rowcount:
                done = statement.execute_many(self._c, rows) == len(rows)
            else:
                done = all(statement.execute(self._c, row) == 1 for row in rows)
        finally:
            if not done:
                statements["undo"].execute(self._c)
            statements["release"].execute(self._c)
        return done

    def replace_all(self, counters: Iterable[Counter], *, basis_fen: int, on: date) -> None:
        """The counters are these from now on (the end-of-day recount), under the total's
        lock; an obligor's counter not among them is dropped (nothing used)."""
        t = tables.risk_counters
        self.lock(on)
        self._c.execute(update(t).values(used_fen=0))
        rows = [{"dimension": c.dimension, "key": c.key, "cap_fen": c.cap_fen,
                 "used_fen": c.used_fen, "basis_fen": basis_fen, "updated_on": on}
                for c in counters]
        if rows:
            statement = self._insert()
            self._c.execute(statement.on_conflict_do_update(
                index_elements=["dimension", "key"],
                set_={"cap_fen": statement.excluded.cap_fen,
                      "used_fen": statement.excluded.used_fen,
                      "basis_fen": statement.excluded.basis_fen,
                      "updated_on": statement.excluded.updated_on}), rows)
        self._c.execute(t.delete().where(t.c.dimension == "obligor", t.c.used_fen == 0))
        self._c.execute(update(t).where(t.c.dimension == TOTAL[0], t.c.key == TOTAL[1])
                        .values(basis_fen=basis_fen, updated_on=on))

    def all(self) -> list[Counter]:
        t = tables.risk_counters
        return [self._from_row(r) for r in self._c.execute(
            select(t).where(t.c.basis_fen >= 0).order_by(t.c.dimension, t.c.key))]

    def fullest(self) -> list[Counter]:
        """One ranked read (a window per dimension) instead of every counter."""
        t = tables.risk_counters
        rank = func.row_number().over(partition_by=t.c.dimension,
                                      order_by=(t.c.used_fen.desc(), t.c.key)).label("rank")
        ranked = select(t, rank).where(t.c.basis_fen >= 0).subquery()
        return [self._from_row(r) for r in self._c.execute(
            select(*(ranked.c[c.name] for c in t.columns)).where(ranked.c.rank == 1)
            .order_by(ranked.c.dimension))]


def _reviews_json(reviews: Iterable[Review]) -> list[dict[str, Any]]:
    return [{"actor": r.actor, "verdict": r.verdict, "on": r.on.isoformat(), "note": r.note}
            for r in reviews]


class SqlDecisionRepository:
    def __init__(self, connection: Connection, events: Any) -> None:
        self._c = connection
        self._events = events

    @staticmethod
    def _values(d: DecisionRecord) -> dict[str, Any]:
        return {
            "application_id": d.application_id, "outcome": d.outcome.value,
            "decided_on": d.decided_on, "decided_by": d.decided_by,
            "reason_codes": ",".join(d.reason_codes)[:1000], "requested_fen": d.requested_fen,
            "approved_fen": d.approved_fen, "annual_premium_rate": d.annual_premium_rate,
            "monthly_premium_rate": d.monthly_premium_rate, "pd": d.pd, "score": d.score,
            "model": d.model, "rule_set_version": d.rule_set_version,
            "params_version": d.params_version, "bureau_source": d.bureau_source,
            "detail": dict(d.detail), "reviews": _reviews_json(d.reviews), "final": d.final}

    @staticmethod
    def _from_row(r: Any) -> DecisionRecord:
        return DecisionRecord(
            application_id=r.application_id, outcome=Outcome(r.outcome),
            decided_on=r.decided_on, decided_by=r.decided_by,
            reason_codes=tuple(c for c in r.reason_codes.split(",") if c),
            requested_fen=r.requested_fen, approved_fen=r.approved_fen,
            annual_premium_rate=r.annual_premium_rate,
            monthly_premium_rate=r.monthly_premium_rate, pd=r.pd, score=r.score,
            model=r.model, rule_set_version=r.rule_set_version,
            params_version=r.params_version, bureau_source=r.bureau_source, detail=r.detail,
            reviews=tuple(Review(x["actor"], x["verdict"], date.fromisoformat(x["on"]),
                                 x["note"]) for x in r.reviews),
            final=r.final)

    def add_many(self, records: Sequence[DecisionRecord]) -> None:
        if records:
            _statements()["decisions"].execute_many(self._c, [self._values(d) for d in records])
            self._drain(records)

    def save(self, record: DecisionRecord) -> None:
        t = tables.decisions
        values = self._values(record)
        del values["application_id"]
        self._c.execute(update(t).where(t.c.application_id == record.application_id)
                        .values(**values))
        self._drain([record])

    def _drain(self, records: Iterable[DecisionRecord]) -> None:
        pending = []
        for d in records:
            pending += [Event(e.name, e.aggregate, d.application_id, e.on, e.data)
                        for e in d.events]
            d.events.clear()
        if pending:
            self._events.add(pending)

    def get(self, application_id: int) -> DecisionRecord | None:
        t = tables.decisions
        r = self._c.execute(select(t).where(t.c.application_id == application_id)).first()
        return self._from_row(r) if r else None

    def pending_page(self, *, funder_id: int | None,
                     request: PageRequest) -> Page[DecisionRecord]:
        t, a = tables.decisions, underwriting_tables.applications
        column = {"id": t.c.application_id, "date": t.c.decided_on,
                  "amount": t.c.approved_fen}[request.sort]
        order = ([column.desc(), t.c.application_id.desc()] if request.descending
                 else [column.asc(), t.c.application_id.asc()])
        conditions: list[ColumnElement[bool]] = [t.c.final.is_(False)]
        if funder_id is not None:
            conditions.append(a.c.funder_id == funder_id)
        joined = t.join(a, a.c.id == t.c.application_id)
        total = self._c.execute(select(func.count()).select_from(joined)
                                .where(*conditions)).scalar_one()
        rows = self._c.execute(select(t).select_from(joined).where(*conditions)
                               .order_by(*order).offset(request.offset).limit(request.size))
        return Page([self._from_row(r) for r in rows], total, request)

    def pending(self, *, funder_id: int | None, after_id: int, limit: int,
                ) -> list[DecisionRecord]:
        """Referrals waiting for review, oldest first."""
        t, a = tables.decisions, underwriting_tables.applications
        q = (select(t).join(a, a.c.id == t.c.application_id)
             .where(t.c.final.is_(False), t.c.application_id > after_id)
             .order_by(t.c.application_id).limit(limit))
        if funder_id is not None:
            q = q.where(a.c.funder_id == funder_id)
        return [self._from_row(r) for r in self._c.execute(q)]

    def count_pending(self, *, funder_id: int | None, reason_code: str | None = None) -> int:
        """One COUNT over the waiting decisions (``final`` is indexed); the reason code is
        matched as a whole entry of the comma-separated list."""
        t, a = tables.decisions, underwriting_tables.applications
        q = select(func.count()).select_from(t).where(t.c.final.is_(False))
        if funder_id is not None:
            q = (q.join(a, a.c.id == t.c.application_id)
                 .where(a.c.funder_id == funder_id))
        if reason_code is not None:
            q = q.where((literal(",") + t.c.reason_codes + literal(","))
                        .contains(f",{reason_code},", autoescape=True))
        return int(self._c.execute(q).scalar_one())
