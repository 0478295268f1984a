"""Who may do what: roles, the actions of every use case, the authority matrix and four-eyes.

The authority matrix is role x action x amount: a role either lacks an action, holds it
without limit, or holds it up to an amount in fen (for money decisions: approving cover,
paying a claim, posting to the ledger). The insurer's own staff see every funder's business;
a funder's client (role ``funder``) is bound to one funder and sees only that one.

``SYSTEM`` is the principal of the insurer's own scheduled jobs and operator commands run on
the server (end-of-day batch, the market simulator, data loads); it passes every check, and
its automatic decisions are recorded in the audit trail as ``system:<job>``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from xinbao.kernel.errors import DomainError


class Role(StrEnum):
    UNDERWRITER = "underwriter"
    UNDERWRITING_APPROVER = "underwriting_approver"
    CLAIMS_ADJUSTER = "claims_adjuster"
    CLAIMS_APPROVER = "claims_approver"
    COLLECTOR = "collector"
    AGENCY_COLLECTOR = "agency_collector"
    FINANCE = "finance"
    RISK_MANAGER = "risk_manager"
    ACTUARY = "actuary"
    AUDITOR = "auditor"
    ADMIN = "admin"
    FUNDER = "funder"


class Action(StrEnum):
    CATALOGUE_READ = "catalogue.read"
    CATALOGUE_MANAGE = "catalogue.manage"
    APPLICATION_SUBMIT = "application.submit"
    APPLICATION_READ = "application.read"
    APPLICATION_APPROVE = "application.approve"
    POLICY_ISSUE = "policy.issue"
    POLICY_READ = "policy.read"
    POLICY_ENDORSE = "policy.endorse"  # cancel a policy, change its insured
    LOAN_READ = "loan.read"
    REPAYMENT_RECORD = "repayment.record"
    BATCH_RUN = "batch.run"
    CLAIM_FILE = "claim.file"
    CLAIM_READ = "claim.read"
    CLAIM_REVIEW = "claim.review"  # take a claim into review, decline it, assess it again
    CLAIM_APPROVE = "claim.approve"  # accept liability, up to an amount
    CLAIM_PAY = "claim.pay"
    RECOVERY_RECORD = "recovery.record"
    LEDGER_READ = "ledger.read"
    LEDGER_POST = "ledger.post"
    REPORT_READ = "report.read"
    PII_UNMASK = "pii.unmask"
    USER_MANAGE = "user.manage"
    AUDIT_READ = "audit.read"
    RETENTION_RUN = "retention.run"
    RISK_MANAGE = "risk.manage"  # anti-fraud lists
    CLASSIFICATION_OVERRIDE = "classification.override"  # a loan's five-tier class, by hand


#: No limit on the amount.
UNLIMITED: int | None = None

_READ_BOOK = (Action.CATALOGUE_READ, Action.APPLICATION_READ, Action.POLICY_READ,
              Action.LOAN_READ, Action.CLAIM_READ)

#: role -> action -> the largest amount in fen the role may decide (None: no limit).
#: Amounts are per decision: the cover approved, the claim paid, the entry posted.
AUTHORITY: dict[Role, dict[Action, int | None]] = {
    Role.UNDERWRITER: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.APPLICATION_SUBMIT: UNLIMITED,
        Action.APPLICATION_APPROVE: 20_000_000,  # 200,000 yuan of cover
    },
    Role.UNDERWRITING_APPROVER: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.APPLICATION_APPROVE: 500_000_000,  # 5,000,000 yuan
        Action.POLICY_ISSUE: UNLIMITED,
        Action.POLICY_ENDORSE: UNLIMITED,
        Action.PII_UNMASK: UNLIMITED,
    },
    Role.CLAIMS_ADJUSTER: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.CLAIM_FILE: UNLIMITED,
        Action.CLAIM_REVIEW: UNLIMITED,
        Action.CLAIM_APPROVE: 5_000_000,  # 50,000 yuan; above it a second approver
        Action.CLAIM_PAY: 5_000_000,  # 50,000 yuan
    },
    Role.CLAIMS_APPROVER: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.CLAIM_REVIEW: UNLIMITED,
        Action.CLAIM_APPROVE: 300_000_000,  # 3,000,000 yuan
        Action.CLAIM_PAY: 300_000_000,  # 3,000,000 yuan
        Action.PII_UNMASK: UNLIMITED,
    },
    Role.COLLECTOR: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.RECOVERY_RECORD: UNLIMITED,
        Action.PII_UNMASK: UNLIMITED,
    },
    Role.AGENCY_COLLECTOR: {
        Action.CLAIM_READ: UNLIMITED,
        Action.RECOVERY_RECORD: UNLIMITED,
    },
    Role.FINANCE: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.REPAYMENT_RECORD: UNLIMITED,
        Action.BATCH_RUN: UNLIMITED,
        Action.LEDGER_READ: UNLIMITED,
        Action.LEDGER_POST: 1_000_000_000,  # 10,000,000 yuan per entry
        Action.REPORT_READ: UNLIMITED,
    },
    Role.RISK_MANAGER: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.CATALOGUE_MANAGE: UNLIMITED,
        Action.RISK_MANAGE: UNLIMITED,
        Action.CLASSIFICATION_OVERRIDE: UNLIMITED,
        Action.REPORT_READ: UNLIMITED,
        Action.LEDGER_READ: UNLIMITED,
    },
    Role.ACTUARY: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.REPORT_READ: UNLIMITED,
        Action.LEDGER_READ: UNLIMITED,
    },
    Role.AUDITOR: {
        **dict.fromkeys(_READ_BOOK, UNLIMITED),
        Action.REPORT_READ: UNLIMITED,
        Action.LEDGER_READ: UNLIMITED,
        Action.AUDIT_READ: UNLIMITED,
    },
    Role.ADMIN: {
        Action.CATALOGUE_READ: UNLIMITED,
        Action.USER_MANAGE: UNLIMITED,
        Action.AUDIT_READ: UNLIMITED,
        Action.RETENTION_RUN: UNLIMITED,
    },
    Role.FUNDER: {
        # Always within the funder's own business (see Principal.funder_id).
        Action.CATALOGUE_READ: UNLIMITED,
        Action.APPLICATION_SUBMIT: UNLIMITED,
        Action.APPLICATION_READ: UNLIMITED,
        Action.POLICY_ISSUE: UNLIMITED,
        Action.POLICY_ENDORSE: UNLIMITED,
        Action.POLICY_READ: UNLIMITED,
        Action.LOAN_READ: UNLIMITED,
        Action.REPAYMENT_RECORD: UNLIMITED,
        Action.CLAIM_FILE: UNLIMITED,
        Action.CLAIM_READ: UNLIMITED,
    },
}

#: Actions that change something (the auditor role holds none of them).
WRITES = frozenset({
    Action.CATALOGUE_MANAGE, Action.APPLICATION_SUBMIT, Action.APPLICATION_APPROVE,
    Action.POLICY_ISSUE, Action.POLICY_ENDORSE, Action.REPAYMENT_RECORD, Action.BATCH_RUN,
    Action.CLAIM_FILE,
    Action.CLAIM_REVIEW, Action.CLAIM_APPROVE, Action.CLAIM_PAY, Action.RECOVERY_RECORD,
    Action.LEDGER_POST, Action.USER_MANAGE, Action.RETENTION_RUN, Action.RISK_MANAGE,
    Action.CLASSIFICATION_OVERRIDE,
})


class Forbidden(DomainError):
    """The principal may not take this action (or not for this amount)."""

    def __init__(self, actor: str, action: Action, reason: str) -> None:
        self.actor, self.action, self.reason = actor, action, reason
        super().__init__(f"{actor} may not {action.value}: {reason}")


class Unauthenticated(DomainError):
    """No valid identity was presented (or the account is locked or disabled)."""


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is acting: a console user, a funder's API client or the system itself."""

    kind: str  # "user", "client" or "system"
    name: str
    roles: frozenset[Role] = field(default_factory=frozenset)
    funder_id: int | None = None  # set for a funder's clients: their tenant

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.name}"

    @property
    def is_system(self) -> bool:
        return self.kind == "system"

    def limit(self, action: Action) -> tuple[bool, int | None]:
        """(whether any role grants the action, the largest amount any of them allows)."""
        granted, best = False, 0
        for role in self.roles:
            grants = AUTHORITY.get(role, {})
            if action in grants:
                cap = grants[action]
                if cap is None:
                    return True, None
                granted, best = True, max(best, cap)
        return granted, (best if granted else None)

    def may(self, action: Action, amount_fen: int | None = None) -> bool:
        if self.is_system:
            return True
        granted, cap = self.limit(action)
        return granted and (cap is None or amount_fen is None or amount_fen <= cap)

    def check(self, action: Action, amount_fen: int | None = None) -> None:
        """Raise Forbidden unless the principal may take the action for this amount."""
        if self.is_system:
            return
        granted, cap = self.limit(action)
        if not granted:
            raise Forbidden(self.actor, action, "no role grants it")
        if cap is not None and amount_fen is not None and amount_fen > cap:
            raise Forbidden(self.actor, action,
                            f"{amount_fen} fen is above the authority limit of {cap} fen")

    def sees_funder(self, funder_id: int | None) -> bool:
        """Whether the principal may see business of this funder (insurer staff see all)."""
        return self.funder_id is None or self.funder_id == funder_id


def system(job: str = "operator") -> Principal:
    """The principal of a scheduled job or an operator command run on the server."""
    return Principal("system", job)


def check_four_eyes(checker: Principal, makers: set[str], action: Action) -> None:
    """The checker of a decision can never be one of its makers (system jobs are rules, not
    people: a decision made by the system may be checked by anyone entitled)."""
    if checker.is_system:
        return
    if checker.actor in makers:
        raise Forbidden(checker.actor, action,
                        "four-eyes: the maker of a decision cannot also check it")


def validate_roles(roles: set[Role], funder_id: int | None) -> list[str]:
    """Problems with a role assignment: funder roles need a funder, staff roles must not."""
    problems = []
    if not roles:
        problems.append("at least one role is required")
    if Role.FUNDER in roles and funder_id is None:
        problems.append("the funder role needs the funder it belongs to")
    if Role.FUNDER in roles and len(roles) > 1:
        problems.append("the funder role cannot be combined with insurer roles")
    if Role.FUNDER not in roles and funder_id is not None:
        problems.append("only the funder role is bound to a funder")
    return problems
