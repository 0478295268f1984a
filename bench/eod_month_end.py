"""The month-end end-of-day batch over a book of policies in force (issue 21): µs per policy
in force (printed, never asserted).

    .venv/bin/python bench/eod_month_end.py                     # 20,000 policies, SQLite
    .venv/bin/python bench/eod_month_end.py --policies 100000
    .venv/bin/python bench/eod_month_end.py --database-url postgresql+psycopg://…/empty
    .venv/bin/python bench/eod_month_end.py --late-every 0      # no claims: the close alone
    .venv/bin/python bench/eod_month_end.py --smoke             # 600 policies

Set-up (not timed): a fresh SQLite database (or the empty PostgreSQL given by URL), the
shipped catalogue, a funder, and ``--policies`` insured loans written in bulk: a third each
on CAR-G (single premium, Rule of 78), MORTGAGE-C (single premium, pro rata) and CONSUMER-G
(installment premium), disbursed over the 18 months before the business date, every
installment due repaid on its due date, single premium earned to the previous month's close;
except 1 % never repaid (``--late-every 100``: past the claim trigger on the business date,
so the day opens their claims) and 0.5 % repaid in full at maturity (settled by the batch).
The borrower's ID number is encrypted on every application and policy, as the use cases
store it.

Timed: ``run_end_of_day`` on a month's last day (installment premium due, premium earned,
settlements, claims), one transaction, then the same day again (a rerun: nothing more posted).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

ON = date(2025, 6, 30)  # a month's last day: the month closes
FIRST_START = date(2024, 1, 3)
#: (product, term in months, amount in fen, monthly premium rate, refund method)
SHAPES = [("CAR-G", 24, 12_000_000, Decimal("0.0025"), "rule_of_78", "single"),
          ("MORTGAGE-C", 36, 50_000_000, Decimal("0.0010"), "pro_rata", "single"),
          ("CONSUMER-G", 24, 3_600_000, Decimal("0.0060"), "pro_rata", "per_installment")]
ID_NUMBER = "11010519491231002X"


def prepare(url: str, policies: int, late_every: int = 100) -> Any:  # the container
    """The book, written in bulk; returns the container."""
    from xinbao.bootstrap import bootstrap
    from xinbao.catalogue import services as catalogue
    from xinbao.catalogue.commands import RegisterFunder
    from xinbao.catalogue.model.parties import FunderKind
    from xinbao.catalogue.model.products import PremiumBasis, RepaymentMethod
    from xinbao.config import Settings
    from xinbao.kernel.money import apply_fraction
    from xinbao.loans.model import add_months, build_schedule
    from xinbao.parameters import load_product_catalogue
    from xinbao.policy.model import premium_schedule
    from xinbao.simulation.identities import IdentityFactory

    c = bootstrap(replace(Settings.from_env(), database_url=url), upgrade=True)
    for cmd in load_product_catalogue():
        catalogue.register_product(cmd, c.uow())
    catalogue.register_funder(RegisterFunder(
        "BANK-A", "示例银行", IdentityFactory(42).credit_code(), FunderKind.BANK, True,
        Decimal("0.1"), ("CONSUMER-G", "CAR-G", "MORTGAGE-C"),
        effective_from=date(2023, 12, 31)), c.uow())
    cipher = c.cipher
    sealed = {f: cipher.encrypt(v, field=f) for f, v in (
        ("borrower_name", "张三"), ("borrower_id_number", ID_NUMBER),
        ("borrower_phone", "13812345678"))}
    id_index = cipher.blind_index(ID_NUMBER, field="borrower_id_number")
    policy_id_number = cipher.encrypt(ID_NUMBER, field="policy_borrower_id_number")
    with c.engine.begin() as conn:
        from sqlalchemy import text
        funder_id = conn.execute(text("SELECT id FROM funders WHERE code = 'BANK-A'")).scalar()
    applications, loans, installments, repayments, rows = [], [], [], [], []
    schedules: dict[tuple[int, date], Any] = {}
    for n in range(1, policies + 1):
        product, term, amount, rate, refund, basis = SHAPES[n % 3]
        start = add_months(FIRST_START, (n // 3) % 18)
        start = start.replace(day=1 + (n * 7) % 28)
        repaid_in_full = n % 200 == 7  # 0.5 %: matured and repaid; settled by the batch
        never_paid = late_every > 0 and n % late_every == 11 % late_every  # past the trigger
        if repaid_in_full:
            term = 12
            start = add_months(ON, -term).replace(day=1 + n % 27)
        schedule = schedules.get((n % 3, term, start))
        if schedule is None:
            schedule = schedules[(n % 3, term, start)] = build_schedule(
                principal_fen=amount, annual_rate=Decimal("0.08"), term_months=term,
                method=RepaymentMethod.EQUAL_INSTALLMENT, start=start)
        single, per_installment = premium_schedule(PremiumBasis(basis), amount, rate, term)
        paid = ([] if never_paid else schedule if repaid_in_full
                else [i for i in schedule if i.due_date <= ON])
        unpaid = [i for i in schedule if i not in paid]
        applications.append({
            "id": n, "funder_id": funder_id, "external_ref": f"APP{n:09d}",
            "product_code": product, "product_version": 1,
            "mode": "credit" if product == "MORTGAGE-C" else "guarantee",
            "borrower_kind": "individual", **sealed, "borrower_id_index": id_index,
            "policyholder": "creditor" if product == "MORTGAGE-C" else "debtor",
            "insured": "creditor", "amount_fen": amount, "term_months": term,
            "annual_rate": Decimal("0.08"), "repayment_method": "equal_installment",
            "applied_on": start, "status": "approved", "decided_on": start,
            "reason_codes": "", "region": "11", "evidence": []})
        loans.append({"id": n, "funder_id": funder_id, "contract_no": f"LN{n:09d}",
                      "principal_fen": amount, "annual_rate": Decimal("0.08"), "term_months": term,
                      "method": "equal_installment", "start_date": start, "status": "active",
                      "first_unpaid_due_date": unpaid[0].due_date if unpaid else None})
        installments += [{"loan_id": n, "number": i.number, "due_date": i.due_date,
                          "principal_fen": i.principal_fen, "interest_fen": i.interest_fen}
                         for i in schedule]
        repayments += [{"loan_id": n, "installment_number": i.number, "paid_on": i.due_date,
                        "principal_fen": i.principal_fen, "interest_fen": i.interest_fen,
                        "reference": f"TX{n}-{i.number}"} for i in paid]
        rows.append({
            "id": n, "application_id": n, "product_code": product, "product_version": 1,
            "mode": applications[-1]["mode"], "funder_id": funder_id,
            "borrower_id_number": policy_id_number,
            "policyholder": applications[-1]["policyholder"], "insured": "creditor",
            "principal_insured_fen": amount,
            "coverage_share": Decimal("0.8") if product == "MORTGAGE-C" else Decimal(1),
            "premium_basis": basis, "monthly_premium_rate": rate, "refund_method": refund,
            "term_months": term, "single_premium_fen": single,
            "installment_premium_fen": per_installment[0], "quoted_on": start,
            "status": "in_force", "start_date": start, "end_date": add_months(start, term),
            "issued_on": start, "loan_id": n,
            "earned_fen": single - apply_fraction(single, *_unearned(refund, start, term)),
            "installments_written": len([i for i in paid if per_installment[0]]),
            "refunded_fen": 0})
    with c.engine.begin() as conn:
        for table, values in (("applications", applications), ("loans", loans),
                              ("installments", installments), ("repayments", repayments),
                              ("policies", rows), ("insured_loans", [{
                                  "loan_id": r["loan_id"], "policy_id": r["id"],
                                  "funder_id": funder_id, "product_code": r["product_code"],
                                  "region": "11", "borrower_id_index": id_index,
                                  "borrower_kind": "individual",
                                  "coverage_share": r["coverage_share"],
                                  "policy_status": r["status"]} for r in rows])):
            _bulk(conn, table, values)
        if conn.dialect.name == "postgresql":
            for table in ("applications", "loans", "repayments", "policies"):
                conn.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                                  f"(SELECT max(id) FROM {table}))"))
    if c.engine.dialect.name == "postgresql":
        with c.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("ANALYZE"))
    return c


def _unearned(method: str, start: date, term: int) -> tuple[int, int]:
    """The share of a single premium unearned at the previous month's close."""
    from xinbao.catalogue.model.products import RefundMethod
    from xinbao.loans.model import add_months
    from xinbao.policy.model import unearned_share

    share = unearned_share(RefundMethod(method), start=start, end=add_months(start, term),
                           term_months=term, on=ON.replace(day=1) - timedelta(days=1))
    return share.numerator, share.denominator


def _bulk(conn: Any, table: str, rows: list[dict[str, Any]]) -> None:
    """Rows in bulk through SQLAlchemy's executemany (insertmanyvalues on PostgreSQL)."""
    from sqlalchemy import insert

    from xinbao.platform.tables import metadata

    target = metadata.tables[table]
    for lo in range(0, len(rows), 20_000):
        conn.execute(insert(target), rows[lo:lo + 20_000])


def run(url: str, policies: int, profile: bool = False, late_every: int = 100) -> None:
    from xinbao.ledger import services as ledger
    from xinbao.servicing import services as servicing
    from xinbao.servicing.commands import RunEndOfDay

    started = time.perf_counter()
    c = prepare(url, policies, late_every)
    print(f"set-up: {policies:,} policies in force, written in bulk "
          f"{time.perf_counter() - started:8.2f} s")
    started = time.perf_counter()
    if profile:
        import cProfile
        import pstats
        with cProfile.Profile() as p:
            report = servicing.run_end_of_day(RunEndOfDay(ON), c.uow())
        pstats.Stats(p).sort_stats("cumulative").print_stats(30)
    else:
        report = servicing.run_end_of_day(RunEndOfDay(ON), c.uow())
    seconds = time.perf_counter() - started
    print(f"month-end end of day {ON}: {seconds:8.2f} s, "
          f"{seconds / policies * 1e6:,.1f} µs per policy in force")
    print(f"  premium earned {report.premium_earned_fen:,} fen, written "
          f"{report.premium_written_fen:,} fen; {report.policies_expired:,} expired, "
          f"{report.policies_cancelled:,} cancelled; {len(report.claims_opened):,} claims "
          f"opened, {len(report.claims_declined):,} declined")
    uow = c.uow()
    with uow:
        entries_before = len(uow.ledger.entries())
    started = time.perf_counter()
    again = servicing.run_end_of_day(RunEndOfDay(ON), c.uow())
    seconds = time.perf_counter() - started
    uow = c.uow()
    with uow:
        entries_after = len(uow.ledger.entries())
    print(f"the same day again (run {again.run}): {seconds:8.2f} s, "
          f"{entries_after - entries_before} entries more")
    balance = ledger.trial_balance(c.uow())
    print(f"trial balance total (must be 0): {balance.total:,}")
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024
    print(f"peak resident memory {peak:.2f} GiB")
    c.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", type=int, default=20_000)
    parser.add_argument("--database-url", default=None, help="an empty database (default: "
                        "a fresh SQLite file)")
    parser.add_argument("--smoke", action="store_true", help="600 policies")
    parser.add_argument("--late-every", type=int, default=100, help="one loan in so many "
                        "never repaid, past the claim trigger on the day (0: none)")
    parser.add_argument("--profile", action="store_true", help="print where the day's time "
                        "goes (cProfile)")
    args = parser.parse_args()
    policies = 600 if args.smoke else args.policies
    work = Path(tempfile.mkdtemp(prefix="xinbao-eod-"))
    os.environ.setdefault("XINBAO_SECRETS_FILE", str(work / "secrets.toml"))
    os.environ.setdefault("XINBAO_SNAPSHOT_DIR", str(work / "snapshots"))
    try:
        run(args.database_url or f"sqlite:///{work / 'bench.db'}", policies, args.profile,
            args.late_every)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    os.environ.setdefault("XINBAO_LOG_LEVEL", "WARNING")
    sys.exit(main())
