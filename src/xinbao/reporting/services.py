"""Read models for people: portfolio KPIs from the ledger and the policy register."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from xinbao.iam.access import authorize
from xinbao.iam.model.security import Action
from xinbao.kernel.money import ratio
from xinbao.ledger import model as ledger
from xinbao.ledger.model import Statement, TrialBalance
from xinbao.policy.model import PolicyStatus
from xinbao.reporting.repository import UnitOfWork
from xinbao.underwriting.model import ApplicationStatus


@dataclass(frozen=True, slots=True)
class PortfolioKpis:
    applications: int
    policies_by_status: dict[PolicyStatus, int]
    statement: Statement
    trial_balance: TrialBalance
    applications_by_status: dict[ApplicationStatus, int] = field(default_factory=dict)

    @property
    def approval_rate(self) -> Decimal | None:
        approved = self.applications_by_status.get(ApplicationStatus.APPROVED, 0)
        declined = self.applications_by_status.get(ApplicationStatus.DECLINED, 0)
        return ratio(approved, approved + declined)

    @property
    def policies(self) -> int:
        """Policies ever issued (quotes not taken up are not policies)."""
        return sum(n for s, n in self.policies_by_status.items() if s is not PolicyStatus.QUOTED)


def portfolio_kpis(uow: UnitOfWork, *, through: date | None = None) -> PortfolioKpis:
    authorize(uow, Action.REPORT_READ)
    with uow:
        tb = ledger.trial_balance(uow.ledger.lines(through=through))
        return PortfolioKpis(
            applications=uow.applications.count(),
            policies_by_status=uow.policies.count_by_status(),
            statement=ledger.underwriting_statement(tb), trial_balance=tb,
            applications_by_status=uow.applications.count_by_status(),
        )


@dataclass(frozen=True, slots=True)
class PolicyRow:
    policy_id: int
    product_code: str
    family: str
    mode: str
    status: str
    sum_insured_fen: int
    premium_fen: int  # premium charged so far: single less refunds, or installments written
    claims_paid_fen: int
    recovered_fen: int


def policy_rows(uow: UnitOfWork) -> list[PolicyRow]:
    """One row per issued policy, for set-based analytics (``xinbao.analytics``)."""
    authorize(uow, Action.REPORT_READ)
    with uow:
        families = {p.code: p.family.value for p in uow.products.list_latest()}
        return [PolicyRow(
            policy_id=f.policy_id, product_code=f.product_code, family=families[f.product_code],
            mode=f.mode, status=f.status, sum_insured_fen=f.sum_insured_fen,
            premium_fen=f.premium_fen, claims_paid_fen=f.claims_paid_fen,
            recovered_fen=f.recovered_fen) for f in uow.reporting.policy_figures()]


def ledger_by_month(uow: UnitOfWork) -> list[tuple[int, int, str, int]]:
    """(year, month, account, sum) of the ledger, for monthly figures."""
    authorize(uow, Action.REPORT_READ)
    with uow:
        return uow.ledger.monthly_totals()


def policy_vintages(uow: UnitOfWork) -> list[tuple[int, date, date | None]]:
    """(policy, start date, first claim date) for vintage curves."""
    authorize(uow, Action.REPORT_READ)
    with uow:
        return uow.reporting.vintage_rows()
