"""The general ledger: append-only double entry.

Every journal entry sums to zero (debits positive, credits negative, in fen); the one check
is ``JournalEntry.__post_init__``. Entries are never changed or deleted: a correction is a
reversing entry (``reverse``). Each entry carries its source (the command and an idempotency
key), unique across the ledger, so a retried command never posts twice.

Accounts follow the structure of the Chinese insurance chart of accounts (CAS 25/26 lines).
Earned premium is the statement line 已赚保费 = 保费收入 − 提取未到期责任准备金, as in Chinese
insurers' income statements, so it is derived from two accounts rather than posted.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import date
from decimal import Decimal
from enum import StrEnum

from xinbao.kernel.money import ratio


class AccountType(StrEnum):
    ASSET = "asset"
    LIABILITY = "liability"
    EQUITY = "equity"
    INCOME = "income"
    EXPENSE = "expense"


@dataclass(frozen=True, slots=True)
class Account:
    code: str
    name_en: str
    name_zh: str
    type: AccountType


BANK = "1002"
PREMIUM_RECEIVABLE = "1122"
#: Premium a funder collected with its borrowers' installments (or at disbursement), owed to
#: us until its settlement statement (issue 23; its lines carry the funder as their party).
DUE_FROM_FUNDERS = "1221"
COMMISSION_PAYABLE = "2221"
#: VAT on premium owed to the tax office (issue 23: 应交税费—应交增值税（销项税额）).
OUTPUT_VAT = "222101"
UNEARNED_PREMIUM_RESERVE = "2601"
CLAIM_RESERVE = "2602"
PAID_IN_CAPITAL = "4001"
WRITTEN_PREMIUM = "6031"
COMMISSION_EXPENSE = "6421"
UPR_CHARGE = "6501"
CLAIM_RESERVE_CHARGE = "6502"
CLAIMS_PAID = "6511"
RECOVERIES = "6513"
# Reinsurance ceded (issue 23, CAS 26 再保险合同): what the cedant's side of a treaty posts.
REINSURANCE_RECEIVABLE = "1211"
CEDED_UPR = "1212"
CEDED_CLAIM_RESERVE = "1213"
REINSURANCE_PAYABLE = "2261"
CEDED_RESERVE_RECOVERED = "6201"
CEDED_CLAIMS_RECOVERED = "6202"
CEDING_COMMISSION = "6203"
CEDED_UPR_RECOVERED = "6204"
CEDED_PREMIUM = "6541"

CHART: tuple[Account, ...] = (
    Account(BANK, "Bank", "银行存款", AccountType.ASSET),
    Account(PREMIUM_RECEIVABLE, "Premium receivable", "应收保费", AccountType.ASSET),
    Account(DUE_FROM_FUNDERS, "Premium held by funders", "应收代收保费", AccountType.ASSET),
    Account(COMMISSION_PAYABLE, "Commission payable", "应付手续费及佣金", AccountType.LIABILITY),
    Account(OUTPUT_VAT, "Output VAT on premium", "应交税费—应交增值税（销项税额）",
            AccountType.LIABILITY),
    Account(UNEARNED_PREMIUM_RESERVE, "Unearned premium reserve", "未到期责任准备金",
            AccountType.LIABILITY),
    Account(CLAIM_RESERVE, "Claim reserve", "未决赔款准备金", AccountType.LIABILITY),
    Account(PAID_IN_CAPITAL, "Paid-in capital", "实收资本", AccountType.EQUITY),
    Account(WRITTEN_PREMIUM, "Written premium", "保费收入", AccountType.INCOME),
    Account(COMMISSION_EXPENSE, "Commission expense", "手续费及佣金支出", AccountType.EXPENSE),
    Account(UPR_CHARGE, "Change in unearned premium reserve", "提取未到期责任准备金",
            AccountType.EXPENSE),
    Account(CLAIM_RESERVE_CHARGE, "Change in claim reserve", "提取未决赔款准备金",
            AccountType.EXPENSE),
    Account(CLAIMS_PAID, "Claims paid", "赔付支出", AccountType.EXPENSE),
    Account(RECOVERIES, "Recoveries", "追偿款收入", AccountType.EXPENSE),  # contra-expense
    Account(REINSURANCE_RECEIVABLE, "Reinsurance receivable", "应收分保账款", AccountType.ASSET),
    Account(CEDED_UPR, "Reinsurance share of unearned premium reserve",
            "应收分保未到期责任准备金", AccountType.ASSET),
    Account(CEDED_CLAIM_RESERVE, "Reinsurance share of claim reserve", "应收分保未决赔款准备金",
            AccountType.ASSET),
    Account(REINSURANCE_PAYABLE, "Reinsurance payable", "应付分保账款", AccountType.LIABILITY),
    Account(CEDED_RESERVE_RECOVERED, "Claim reserve recovered from reinsurers",
            "摊回保险责任准备金", AccountType.INCOME),
    Account(CEDED_CLAIMS_RECOVERED, "Claims recovered from reinsurers", "摊回赔付支出",
            AccountType.INCOME),
    Account(CEDING_COMMISSION, "Ceding commission", "摊回分保费用", AccountType.INCOME),
    Account(CEDED_UPR_RECOVERED, "Unearned premium reserve recovered from reinsurers",
            "摊回未到期责任准备金", AccountType.INCOME),
    Account(CEDED_PREMIUM, "Ceded premium", "分出保费", AccountType.EXPENSE),
)
ACCOUNTS: Mapping[str, Account] = {a.code: a for a in CHART}


class UnbalancedEntry(ValueError):
    """A journal entry whose lines do not sum to zero, or that is otherwise malformed."""


@dataclass(frozen=True, slots=True)
class Line:
    account: str
    amount_fen: int  # debit > 0, credit < 0
    #: The counterparty the line is with (辅助核算), e.g. ``funder:BANK-A`` on commission
    #: payable and premium held by funders; empty for most lines.
    party: str = ""


def funder_party(code: str) -> str:
    """The party of a funder's lines: ``funder:`` and its code."""
    return f"funder:{code}"


@dataclass(frozen=True, slots=True)
class JournalEntry:
    posted_on: date
    description: str
    source_command: str
    idempotency_key: str
    lines: tuple[Line, ...]
    reverses_id: int | None = None
    reference: str = ""  # the business object, e.g. "policy:12"
    id: int | None = None

    def __post_init__(self) -> None:
        if len(self.lines) < 2:
            raise UnbalancedEntry("a journal entry has at least two lines")
        for line in self.lines:
            if line.account not in ACCOUNTS:
                raise UnbalancedEntry(f"unknown account {line.account!r}")
            if not isinstance(line.amount_fen, int) or line.amount_fen == 0:
                raise UnbalancedEntry("every line moves a non-zero whole number of fen")
        total = sum(line.amount_fen for line in self.lines)
        if total != 0:
            raise UnbalancedEntry(f"journal entry is out of balance by {total} fen")
        if not self.source_command or not self.idempotency_key:
            raise UnbalancedEntry("a journal entry names its source command and idempotency key")

    @property
    def key(self) -> str:
        return f"{self.source_command}:{self.idempotency_key}"

    def with_id(self, entry_id: int) -> JournalEntry:
        return replace(self, id=entry_id)


#: A move: (debit account, credit account, fen), or with the party of both lines, or with the
#: party of the debit's line and of the credit's.
Move = tuple[str, str, int] | tuple[str, str, int, str] | tuple[str, str, int, str, str]


def entry(
    *, on: date, description: str, source: str, key: str, reference: str = "",
    moves: Iterable[Move],
) -> JournalEntry | None:
    """Build an entry from moves (``Move``); zero moves drop out, a negative one runs the
    other way. Returns None when every move is zero (nothing to post).
    """
    lines: list[Line] = []
    for move in moves:
        debit, credit, fen = move[0], move[1], move[2]
        parties = move[3:] if len(move) > 3 else ("",)
        debit_party, credit_party = parties[0], parties[-1]
        if fen < 0:
            debit, credit, fen = credit, debit, -fen
            debit_party, credit_party = credit_party, debit_party
        if fen:
            lines += [Line(debit, fen, debit_party), Line(credit, -fen, credit_party)]
    if not lines:
        return None
    return JournalEntry(posted_on=on, description=description, source_command=source,
                        idempotency_key=key, reference=reference, lines=tuple(lines))


def key_digest(parts: Sequence[str]) -> str:
    """A short, stable idempotency key for a posting that covers exactly these items."""
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:24]


def capital_paid_in(*, on: date, amount_fen: int, reference: str) -> JournalEntry | None:
    """Paid-in capital received (Dr bank / Cr paid-in capital 实收资本), keyed by the
    shareholder's payment reference so that it is posted once."""
    return entry(on=on, description="Paid-in capital", source="InjectCapital", key=reference,
                 moves=[(BANK, PAID_IN_CAPITAL, amount_fen)])


def reverse(original: JournalEntry, *, on: date, key: str, reason: str) -> JournalEntry:
    """The entry that undoes ``original``: every line negated, linked to it."""
    if original.id is None:
        raise ValueError("only a posted entry can be reversed")
    return JournalEntry(
        posted_on=on, description=f"Reversal of entry {original.id}: {reason}",
        source_command="ReverseEntry", idempotency_key=key, reference=original.reference,
        reverses_id=original.id,
        lines=tuple(Line(line.account, -line.amount_fen, line.party)
                    for line in original.lines),
    )


@dataclass(frozen=True, slots=True)
class TrialBalance:
    balances: Mapping[str, int]  # account code → debit-positive balance

    @property
    def total(self) -> int:
        """Zero for a ledger whose every entry balances."""
        return sum(self.balances.values())

    def balance(self, account: str) -> int:
        return self.balances.get(account, 0)

    def rows(self) -> list[tuple[Account, int, int]]:
        """(account, debit, credit) per account of the chart, in chart order."""
        return [
            (acct, max(self.balance(acct.code), 0), max(-self.balance(acct.code), 0))
            for acct in CHART
        ]


def trial_balance(lines: Iterable[Line]) -> TrialBalance:
    balances: dict[str, int] = {}
    for line in lines:
        balances[line.account] = balances.get(line.account, 0) + line.amount_fen
    return TrialBalance(balances)


@dataclass(frozen=True, slots=True)
class Statement:
    """Underwriting figures derived from the trial balance (all in fen)."""

    written_premium_fen: int
    upr_change_fen: int
    earned_premium_fen: int
    claims_paid_fen: int
    claim_reserve_change_fen: int
    recoveries_fen: int
    claims_incurred_fen: int  # paid + reserve change − recoveries
    commission_fen: int
    underwriting_result_fen: int
    # Ceded to reinsurers (0 without a treaty): premium, the change in their share of the
    # UPR, claims and claim reserve recovered, and the ceding commission.
    ceded_premium_fen: int = 0
    ceded_upr_change_fen: int = 0
    ceded_claims_fen: int = 0
    ceded_reserve_change_fen: int = 0
    ceding_commission_fen: int = 0

    @property
    def net_written_premium_fen(self) -> int:
        return self.written_premium_fen - self.ceded_premium_fen

    @property
    def net_earned_premium_fen(self) -> int:
        return self.earned_premium_fen - (self.ceded_premium_fen - self.ceded_upr_change_fen)

    @property
    def net_claims_incurred_fen(self) -> int:
        return self.claims_incurred_fen - self.ceded_claims_fen - self.ceded_reserve_change_fen

    @property
    def net_commission_fen(self) -> int:
        return self.commission_fen - self.ceding_commission_fen

    @property
    def net_underwriting_result_fen(self) -> int:
        return self.net_earned_premium_fen - self.net_claims_incurred_fen \
            - self.net_commission_fen

    @property
    def net_loss_ratio(self) -> Decimal | None:
        return ratio(self.net_claims_incurred_fen, self.net_earned_premium_fen)

    @property
    def net_combined_ratio(self) -> Decimal | None:
        return ratio(self.net_claims_incurred_fen + self.net_commission_fen,
                     self.net_earned_premium_fen)

    @property
    def loss_ratio(self) -> Decimal | None:
        return ratio(self.claims_incurred_fen, self.earned_premium_fen)

    @property
    def expense_ratio(self) -> Decimal | None:
        return ratio(self.commission_fen, self.earned_premium_fen)

    @property
    def combined_ratio(self) -> Decimal | None:
        return ratio(self.claims_incurred_fen + self.commission_fen, self.earned_premium_fen)


def underwriting_statement(tb: TrialBalance) -> Statement:
    written = -tb.balance(WRITTEN_PREMIUM)
    upr_change = tb.balance(UPR_CHARGE)
    earned = written - upr_change
    paid = tb.balance(CLAIMS_PAID)
    reserve_change = tb.balance(CLAIM_RESERVE_CHARGE)
    recoveries = -tb.balance(RECOVERIES)
    incurred = paid + reserve_change - recoveries
    commission = tb.balance(COMMISSION_EXPENSE)
    return Statement(
        written_premium_fen=written, upr_change_fen=upr_change, earned_premium_fen=earned,
        claims_paid_fen=paid, claim_reserve_change_fen=reserve_change, recoveries_fen=recoveries,
        claims_incurred_fen=incurred, commission_fen=commission,
        underwriting_result_fen=earned - incurred - commission,
        ceded_premium_fen=tb.balance(CEDED_PREMIUM),
        ceded_upr_change_fen=-tb.balance(CEDED_UPR_RECOVERED),
        ceded_claims_fen=-tb.balance(CEDED_CLAIMS_RECOVERED),
        ceded_reserve_change_fen=-tb.balance(CEDED_RESERVE_RECOVERED),
        ceding_commission_fen=-tb.balance(CEDING_COMMISSION),
    )
