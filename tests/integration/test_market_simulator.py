"""The market simulator: reproducible to the fen, faithful to its ground truth, and a
stressed economy costs more than a calm one."""

from __future__ import annotations

import math
import shutil
import tomllib
from dataclasses import replace
from datetime import date
from decimal import Decimal

import polars as pl
import pytest
from sqlalchemy import MetaData, select

from tests import support
from tests.conftest import provision
from xinbao.analytics.portfolio import monthly_statement, vintage_curves
from xinbao.bootstrap import risk_engine
from xinbao.claims.model import ClaimStatus
from xinbao.config import Settings
from xinbao.parameters import load_parameters, load_product_catalogue
from xinbao.platform.database import create_db_engine
from xinbao.policy.model import PolicyStatus
from xinbao.reporting import services as reporting
from xinbao.simulation.bureau import SimulatedBureau
from xinbao.simulation.runner import run_market
from xinbao.simulation.scenario import dump_scenario, resolve_scenario, scenario_from_dict
from xinbao.sql_unit_of_work import SqlUnitOfWork

SMALL = replace(resolve_scenario("base"), applications=360, months=8, default_multiplier=6.0)



def _factory(engine):
    return lambda: SqlUnitOfWork(engine, cipher=support.cipher())


def _run(scenario, factory):
    """The scenario through the shipped risk engine (fallback score, simulated bureau)."""
    bureau = SimulatedBureau()
    risk = risk_engine(Settings(models_dir="/nonexistent/models"), load_parameters(),
                       bureau_service=bureau)
    return run_market(scenario, factory, load_product_catalogue(), engine=risk, bureau=bureau)

#: Columns that differ between two identical runs by design: personal data is encrypted with
#: a fresh nonce each time (compared decrypted), and the audit trail holds wall-clock times
#: and the hashes over them.
_ENCRYPTED = {("applications", c) for c in (
    "borrower_name", "borrower_id_number", "borrower_phone", "borrower_bank_card",
    "device_id", "address", "employer")} | {
    ("policies", "borrower_id_number")}
_WALL_CLOCK = {("domain_events", c) for c in ("recorded_at", "prev_hash", "hash")} | {
    ("audit_head", "hash"), ("batch_runs", "last_run_at")}


def _dump(engine) -> dict[str, list[tuple]]:
    """Every row of every table, in primary-key order (personal data decrypted, wall-clock
    columns left out)."""
    meta = MetaData()
    meta.reflect(engine)
    cipher = support.cipher()
    out = {}
    with engine.connect() as c:
        for name, table in sorted(meta.tables.items()):
            key = list(table.primary_key.columns) or list(table.columns)
            columns = [col for col in table.columns if (name, col.name) not in _WALL_CLOCK]
            rows = []
            for r in c.execute(select(*columns).order_by(*key)):
                rows.append(tuple(
                    cipher.decrypt(v, field=("policy_borrower_id_number"
                                             if name == "policies" else col.name))
                    if (name, col.name) in _ENCRYPTED else v
                    for col, v in zip(columns, r, strict=True)))
            out[name] = rows
    return out


def _figures(factory, end: date) -> tuple:
    k = reporting.portfolio_kpis(factory())
    monthly = monthly_statement(reporting.ledger_by_month(factory()))
    vintages = vintage_curves(reporting.policy_vintages(factory()), end)
    balances = {acct: v for acct, v in k.trial_balance.balances.items() if v}
    return k.statement, balances, monthly.rows(), vintages.rows()


def _run_sql(url: str, scenario):
    engine = create_db_engine(url)
    result = _run(scenario, _factory(engine))
    return engine, result


def test_the_same_seed_gives_identical_database_contents_and_figures(request, tmp_path):
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    with provision("sqlite", request, tmp_path / "a") as url_a, \
            provision("sqlite", request, tmp_path / "b") as url_b:
        engine_a, result_a = _run_sql(url_a, SMALL)
        engine_b, result_b = _run_sql(url_b, SMALL)
        assert result_a.policies > 200 and result_a.repayments > 500
        assert result_a.declined > 0 and result_a.approved > result_a.declined
        assert result_a.claims_opened > 0 and result_a.prepayments > 0
        assert _dump(engine_a) == _dump(engine_b)
        assert (_figures(_factory(engine_a), result_a.end)
                == _figures(_factory(engine_b), result_b.end))
        assert result_a.truth.equals(result_b.truth)
        engine_a.dispose()
        engine_b.dispose()


def test_another_seed_gives_another_market(sqlite_template, tmp_path):
    # On SQLite: the end-of-day batch's set questions are answered in SQL only.
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    engine_a, a = _run_sql(_sqlite_copy(sqlite_template, tmp_path / "a"), SMALL)
    engine_b, b = _run_sql(_sqlite_copy(sqlite_template, tmp_path / "b"),
                           replace(SMALL, seed=SMALL.seed + 1))
    assert not a.truth.equals(b.truth)
    assert (_figures(_factory(engine_a), a.end)
            != _figures(_factory(engine_b), b.end))
    engine_a.dispose()
    engine_b.dispose()


def test_postgresql_agrees_with_sqlite_to_the_fen(database_url, sqlite_template, tmp_path):
    # Once the fake was the second leg; it has no copy of the end-of-day batch's SQL now.
    engine, result = _run_sql(database_url, SMALL)
    (tmp_path / "sqlite").mkdir()
    reference, _ = _run_sql(_sqlite_copy(sqlite_template, tmp_path / "sqlite"), SMALL)
    assert (_figures(_factory(engine), result.end)
            == _figures(_factory(reference), result.end))
    engine.dispose()
    reference.dispose()


def _sqlite_copy(template, folder) -> str:
    path = folder / "market.db"
    shutil.copy(template, path)
    return f"sqlite:///{path}"


@pytest.fixture(scope="module")
def busy_market(sqlite_template, tmp_path_factory):
    """Enough defaults to test rates: 1,600 applications, 15 months, defaults tripled."""
    scenario = replace(resolve_scenario("base"), applications=1600, months=15,
                       default_multiplier=3.0)
    engine, result = _run_sql(_sqlite_copy(sqlite_template, tmp_path_factory.mktemp("busy")),
                              scenario)
    yield scenario, result, _factory(engine)
    engine.dispose()


def test_observed_claims_per_product_match_the_ground_truth_expectation(busy_market):
    _, result, factory = busy_market
    with factory() as u:
        policies = {p.id: p for p in u.policies.list_by_status(
            s for s in PolicyStatus if s is not PolicyStatus.QUOTED)}
        claimed = {c.policy_id for p in policies.values() for c in u.claims.for_policy(p.id)}
    observed = pl.DataFrame({
        "product": [p.product_code for p in policies.values()],
        "claimed": [p.id in claimed for p in policies.values()],
    }).group_by("product").agg(n=pl.len(), claims=pl.col("claimed").sum())
    truth = (result.truth.filter(pl.col("disbursed"))
             .group_by("product")
             .agg(expected=pl.col("expected_claim_by_end").sum(),
                  variance=(pl.col("expected_claim_by_end")
                            * (1 - pl.col("expected_claim_by_end"))).sum(),
                  n_truth=pl.len()))
    both = observed.join(truth, on="product")
    assert both.height == 4
    for row in both.iter_rows(named=True):
        assert row["n"] == row["n_truth"]
        tolerance = 3.5 * math.sqrt(row["variance"]) + 2
        assert abs(row["claims"] - row["expected"]) <= tolerance, row
    assert both["claims"].sum() > 40  # enough events for the comparison to mean something


def test_fraud_rings_all_reach_a_claim_and_recover_nothing(busy_market):
    scenario, result, factory = busy_market
    rings = result.truth.filter(pl.col("fraud") & pl.col("disbursed"))
    assert rings.height > 5
    assert (rings["expected_claim_by_end"] > 0.99).sum() >= rings.height * 0.8
    assert rings["recovery_rate"].max() == 0.0


def test_a_2019_style_stress_costs_more_than_the_base_market(sqlite_template, tmp_path):
    def loss_ratio(name: str):
        scenario = replace(resolve_scenario(name), applications=900, months=15)
        folder = tmp_path / name
        folder.mkdir()
        engine, _ = _run_sql(_sqlite_copy(sqlite_template, folder), scenario)
        ratio = reporting.portfolio_kpis(_factory(engine)()).statement.loss_ratio
        engine.dispose()
        return ratio

    base, stress = loss_ratio("base"), loss_ratio("stress2019")
    assert stress > base * Decimal("1.5"), (base, stress)


def test_scenarios_round_trip_through_their_file_format_and_refuse_nonsense():
    for name in ("base", "downturn", "stress2019"):
        s = resolve_scenario(name)
        assert scenario_from_dict(tomllib.loads(dump_scenario(s))) == s
    data = tomllib.loads(dump_scenario(SMALL))
    data["mix"]["consumer"] = 0.9
    with pytest.raises(ValueError, match="sum to 1"):
        scenario_from_dict(data)
    with pytest.raises(FileNotFoundError):
        resolve_scenario("no-such-scenario")


def test_paid_claims_and_recoveries_in_the_ledger_match_the_claims(busy_market):
    _, result, factory = busy_market
    st = reporting.portfolio_kpis(factory()).statement
    with factory() as u:
        paid = [c for p in u.policies.list_by_status(PolicyStatus)
                for c in u.claims.for_policy(p.id)
                if c.status in (ClaimStatus.PAID, ClaimStatus.RECOVERING, ClaimStatus.CLOSED)]
    assert sum(c.amount_fen for c in paid) == st.claims_paid_fen
    assert sum(c.recovered_fen for c in paid) == st.recoveries_fen
    assert result.recoveries > 0 and st.recoveries_fen > 0


def test_each_simulated_funder_is_registered_under_its_scenario_agreement(busy_market):
    scenario, _, factory = busy_market
    with factory() as u:
        stored = {f.code: u.funders.agreements(f.id) for f in u.funders.list()}
    for spec in scenario.funders:
        (agreement,) = stored[spec.code]
        assert agreement.products == spec.products
        assert agreement.commission_rate == spec.commission_rate
        assert agreement.risk_share == spec.risk_share
        assert agreement.volume_share == Decimal(str(spec.volume_share))
        assert agreement.settlement_days == spec.settlement_days
        assert agreement.file_format == spec.file_format
        assert agreement.effective_from == scenario.start
    assert {a.file_format for (a,) in stored.values()} == {"csv", "jsonl"}


def test_the_funders_send_notices_and_are_paid_in_batches_that_tie_out(busy_market):
    _, result, factory = busy_market
    assert result.claim_notices > 0 and result.settlements > 0
    assert result.claims_reviewed > 0  # referred or above the automatic limit: by a person
    with factory() as u:
        standing = [c for p in u.policies.list_by_status(PolicyStatus)
                    for c in u.claims.for_policy(p.id)]
        batches = {c.settlement_id for c in standing if c.settlement_id is not None}
        totals = {b: u.settlements.get(b).total_fen for b in batches}
    assert {c.source.value for c in standing} >= {"notice", "trigger"}
    paid = [c for c in standing
            if c.status in (ClaimStatus.PAID, ClaimStatus.RECOVERING, ClaimStatus.CLOSED)]
    assert len(paid) == result.claims_paid and all(c.settlement_id for c in paid)
    # Claims paid = the statements' totals.
    assert sum(totals.values()) == sum(c.amount_fen for c in paid)


def test_borrowers_cancel_in_the_cooling_off_and_the_book_cedes_under_its_treaties(
        busy_market):
    from xinbao.kernel.money import apply_rate
    from xinbao.ledger import model as gl
    from xinbao.policy.model import EndorsementKind
    from xinbao.reinsurance.services import shipped

    _, result, factory = busy_market
    assert result.cancellations > 0 and result.reinsurance_closes == 15
    with factory() as u:
        cancelled = u.policies.list_by_status([PolicyStatus.CANCELLED])
        refunds = [e for p in cancelled for e in u.policies.endorsements(p.id)
                   if e.kind is EndorsementKind.CANCELLATION]
        quota_share = next(t for t in shipped().treaties if t.cession)
        ceded = sum(line.amount_fen for e in u.ledger.entries(reference=quota_share.reference())
                    for line in e.lines if line.account == gl.CEDED_PREMIUM)
    assert len(refunds) == result.cancellations
    assert all(e.details["cooling_off"] for e in refunds)
    statement = reporting.portfolio_kpis(factory()).statement
    # The quota share ceded its share of everything written, closed at the last month end.
    assert ceded == apply_rate(statement.written_premium_fen, quota_share.cession)
    assert statement.net_written_premium_fen < statement.written_premium_fen


def test_borrowers_prepay_in_part_and_funders_restructure_with_or_without_consent(
        busy_market):
    from xinbao.ledger import model as gl
    from xinbao.ledger import services as ledger
    from xinbao.policy.model import EndorsementKind

    _, result, factory = busy_market
    assert result.partial_prepayments > 0 and result.restructures > 0
    with factory() as u:
        made = [e for p in u.policies.list_by_status(PolicyStatus)
                for e in u.policies.endorsements(p.id)]
        entries = u.ledger.entries()
    partial = [e for e in made if e.kind is EndorsementKind.PARTIAL_PREPAYMENT]
    restructured = [e for e in made if e.kind is EndorsementKind.RESTRUCTURE]
    assert len(partial) == result.partial_prepayments
    assert len(restructured) == result.restructures
    assert sum(e.details["consent"] for e in restructured) == result.restructures_consented
    # Each partial prepayment's refund is posted once, with its version's key.
    keyed = {e.idempotency_key for e in entries if e.source_command == "RefundPremium"}
    assert all(f"policy:{e.policy_id}:v{e.version}" in keyed for e in partial
               if e.refund_fen)
    statement = reporting.portfolio_kpis(factory()).statement
    tb = ledger.trial_balance(factory())
    assert tb.total == 0
    assert statement.written_premium_fen == statement.earned_premium_fen + (
        -tb.balance(gl.UNEARNED_PREMIUM_RESERVE))


def test_funders_that_collect_the_premium_settle_it_on_their_statements(busy_market):
    from xinbao.billing import services as billing
    from xinbao.ledger import model as gl

    scenario, result, factory = busy_market
    collecting = [f.code for f in scenario.funders if f.premium_collector == "funder"]
    assert collecting and result.premium_settlements > 0
    for code in collecting:
        settled = billing.funder_statements(factory(), code)
        assert settled, code
        last = settled[-1]
        party = gl.funder_party(code)
        # Through its last settled cycle the funder's premium held and commission are
        # settled to the fen: what its lines moved there, the settlements took off.
        with factory() as u:
            moved = sum(line.amount_fen for e in u.ledger.entries()
                        if e.posted_on <= last.cycle_to or e.source_command == "SettleFunder"
                        for line in e.lines if line.party == party)
        assert moved == 0, code
        assert sum(s.figures.premium_held_fen for s in settled) > 0
