"""Premium posting templates: the journal entries for premium written, collected, earned and
refunded, and the funder's commission.

Pure: each template takes the business values (integer fen, dates, ids, the items a posting
covers) and returns the entry, or None when every amount is zero. The accounts, the
description, the source command and the key are decided here; `policy/premiums.py` and the
use cases read, compute what needs the repositories, post and save.

Written premium follows CAS 25 (《企业会计准则第25号——原保险合同》): a single premium is written
in full at issue and deferred to the unearned premium reserve (UPR), then earned over the
cover by the product's refund method; an installment premium is written when it falls due,
for cover already given, so it is earned as it is written. Earned premium (已赚保费) is
derived as written premium less the change in UPR (`ledger/model.underwriting_statement`).

Keys are derived from the business object, or from a digest of exactly the items a posting
covers, so re-running a step never posts twice.

VAT on premium (``params/regulatory.toml [vat]``): a policy's premium is the premium
excluding VAT, the insurer's revenue (保费收入). The VAT on each premium written is owed to the
tax office (Dr premium receivable / Cr output VAT 222101) and reversed with each refund, so
the receivable, the collections and the refunds are what the borrower pays, VAT included.

A funder's lines carry it as their party (``ledger.model.funder_party``): its commission
payable, and the premium it collects for us when its agreement says the funder collects
(premium held by funders 1221, until its settlement statement; ``billing``). Premium the
insurer collects goes to the bank.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date

from xinbao.ledger.model import (
    BANK,
    COMMISSION_EXPENSE,
    COMMISSION_PAYABLE,
    DUE_FROM_FUNDERS,
    OUTPUT_VAT,
    PREMIUM_RECEIVABLE,
    UNEARNED_PREMIUM_RESERVE,
    UPR_CHARGE,
    WRITTEN_PREMIUM,
    JournalEntry,
    Move,
    entry,
    key_digest,
)


@dataclass(frozen=True, slots=True)
class FunderShare:
    """One funder's part of a posting: its party, whether it collects the premium (its
    agreement's ``premium_collector``), and its premium, the VAT on it and its commission,
    fen."""

    party: str
    collects: bool
    premium_fen: int = 0
    commission_fen: int = 0
    vat_fen: int = 0


def collected_into(share: FunderShare) -> tuple[str, str]:
    """Where premium collected goes: the funder's premium held (with its party) when it
    collects, else the bank."""
    return (DUE_FROM_FUNDERS, share.party) if share.collects else (BANK, "")


def _commission(shares: Iterable[FunderShare]) -> list[Move]:
    """Commission accrued per funder (Dr commission expense / Cr its commission payable)."""
    return [(COMMISSION_EXPENSE, COMMISSION_PAYABLE, s.commission_fen, "", s.party)
            for s in shares]


def policy_reference(policy_id: int) -> str:
    """The ledger's reference to one policy."""
    return f"policy:{policy_id}"


def single_premiums_at_issue(
    *, on: date, policy_ids: Sequence[int], shares: Sequence[FunderShare], collected: bool,
) -> JournalEntry | None:
    """At issue (CAS 25): the single premiums written in full (Dr premium receivable / Cr
    written premium) with their VAT (Dr premium receivable / Cr output VAT) and deferred to
    the UPR (Dr change in UPR / Cr UPR), each funder's commission accrued (Dr commission
    expense / Cr its commission payable) and, when the premium is collected at disbursement,
    the cash, VAT included (Dr bank, or the premium its funder holds / Cr premium
    receivable).

    One entry for the policies issued together, keyed by exactly which they are.
    """
    premium_fen = sum(s.premium_fen for s in shares)
    moves: list[Move] = [
        (PREMIUM_RECEIVABLE, WRITTEN_PREMIUM, premium_fen),
        (PREMIUM_RECEIVABLE, OUTPUT_VAT, sum(s.vat_fen for s in shares)),
        (UPR_CHARGE, UNEARNED_PREMIUM_RESERVE, premium_fen),
        *_commission(shares),
    ]
    if collected:
        for s in shares:
            account, party = collected_into(s)
            moves.append((account, PREMIUM_RECEIVABLE, s.premium_fen + s.vat_fen, party, ""))
    reference = (policy_reference(policy_ids[0]) if len(policy_ids) == 1
                 else f"issue:{on.isoformat()}")
    return entry(on=on, description=f"Single premium of {len(policy_ids)} policies",
                 source="IssuePolicy", key=key_digest([str(i) for i in policy_ids]),
                 reference=reference, moves=moves)


def installment_premiums_written(
    *, on: date, source: str, installments: Sequence[tuple[int, int, int]], premium_fen: int,
    vat_fen: int, commission: Mapping[str, int],
) -> JournalEntry | None:
    """Installment premiums fallen due (CAS 25): written (Dr premium receivable / Cr written
    premium) with their VAT, ``vat_fen`` (Dr premium receivable / Cr output VAT); an
    installment premium pays for cover already given (it falls due at the end
    of its month), so it is earned as it is written and no UPR is set up for it. The
    funders' commission is accrued with it (Dr commission expense / Cr commission payable),
    ``commission`` fen by each funder's party.

    ``installments`` are (policy id, first, last installment written); ``source`` is the
    file or batch that writes them. The key is a digest of exactly which installments the
    entry writes, so a rerun posts nothing twice.
    """
    written = [f"{policy_id}:{first}-{last}" for policy_id, first, last in installments]
    return entry(
        on=on, description=f"Installment premiums written ({len(written)} policies)",
        source="WriteInstallmentPremium", key=f"{source}:{key_digest(written)}",
        reference=source,
        moves=[(PREMIUM_RECEIVABLE, WRITTEN_PREMIUM, premium_fen),
               (PREMIUM_RECEIVABLE, OUTPUT_VAT, vat_fen),
               *((COMMISSION_EXPENSE, COMMISSION_PAYABLE, fen, "", party)
                 for party, fen in sorted(commission.items()))],
    )


def premium_collected(
    *, on: date, amount_fen: int, funder_code: str, file_reference: str,
    repayments: Iterable[tuple[int, str]], share: FunderShare,
) -> JournalEntry | None:
    """Premium received with a funder's repayment file (Dr bank, or the premium the funder
    holds when it collects, ``share`` / Cr premium receivable).

    ``repayments`` are the (loan id, transaction number) pairs the file recorded: the key is
    the file's and a digest of them.
    """
    account, party = collected_into(share)
    key = f"{funder_code}:{file_reference}:" + key_digest(
        [f"{loan_id}:{reference}" for loan_id, reference in repayments])
    return entry(on=on, description="Premium collected with repayments",
                 source="CollectPremium", key=key,
                 reference=f"file:{funder_code}:{file_reference}",
                 moves=[(account, PREMIUM_RECEIVABLE, amount_fen, party, "")])


def premium_earned(
    *, on: date, policy_id: int, policy_no: str, earned_through_fen: int, amount_fen: int,
) -> JournalEntry | None:
    """One policy's single premium earned (Dr UPR / Cr change in UPR): ``amount_fen`` newly
    earned, bringing what the policy has earned to ``earned_through_fen`` (the key).

    Earning follows the product's refund method (`policy/model.unearned_share`), so a later
    refund is exactly the UPR left.
    """
    reference = policy_reference(policy_id)
    return entry(on=on, description=f"Premium earned on {policy_no} to {on}",
                 source="EarnPremium", key=f"{reference}:{earned_through_fen}",
                 reference=reference,
                 moves=[(UNEARNED_PREMIUM_RESERVE, UPR_CHARGE, amount_fen)])


def premiums_earned(
    *, on: date, source: str, product_code: str, earned: Sequence[tuple[int, int]],
    amount_fen: int,
) -> JournalEntry | None:
    """The day's single premium earned on one product (Dr UPR / Cr change in UPR) as one
    entry: the month-end close and the settlements of the end-of-day batch ``source``.

    ``earned`` are (policy id, earned to now) of the policies that earned something, and
    ``amount_fen`` what they earned together. Each policy's own figure is its
    ``earned_fen`` (and the key's items); the key is a digest of exactly them, so a rerun
    posts nothing twice.
    """
    parts = [f"{policy_id}:{through}" for policy_id, through in earned]
    return entry(on=on, description=f"Premium earned on {product_code} to {on} "
                                    f"({len(parts)} policies)",
                 source="EarnPremium", key=f"{source}:{product_code}:{key_digest(parts)}",
                 reference=source,
                 moves=[(UNEARNED_PREMIUM_RESERVE, UPR_CHARGE, amount_fen)])


def premium_refunded(
    *, on: date, policy_id: int, policy_no: str, amount_fen: int, vat_fen: int,
    share: FunderShare, commission_fen: int = 0, earned_reversed_fen: int = 0,
    description: str | None = None, version: int | None = None,
) -> JournalEntry | None:
    """The single premium refunded (DOMAIN §3) on prepayment or cancellation: written
    premium reversed against the bank, or against the premium the policy's funder holds
    when it collects (``share``: it pays the borrower back) (Dr written premium / Cr bank or
    1221), with the VAT on it (``vat_fen``: Dr output VAT / Cr bank or 1221), and the UPR
    it still
    held released (Dr UPR / Cr change in UPR): the refund less ``earned_reversed_fen``, the
    premium earned before and given back with it (a cancellation in the cooling-off
    period), so the policy's earned premium becomes what it keeps; and the funder's
    commission on the refunded premium clawed back (Dr commission payable / Cr commission
    expense: ``commission_fen``, the agreement's rate on the refund; the funder's party).
    Once per policy when
    its cover ends; a refund with an endorsement that leaves cover (a partial prepayment)
    once per the policy's ``version`` it made.
    """
    reference = policy_reference(policy_id)
    key = reference if version is None else f"{reference}:v{version}"
    account, party = collected_into(share)
    return entry(on=on, description=description or f"Premium refund on prepayment of {policy_no}",
                 source="RefundPremium", key=key, reference=reference,
                 moves=[(WRITTEN_PREMIUM, account, amount_fen, "", party),
                        (OUTPUT_VAT, account, vat_fen, "", party),
                        (UNEARNED_PREMIUM_RESERVE, UPR_CHARGE, amount_fen - earned_reversed_fen),
                        (COMMISSION_PAYABLE, COMMISSION_EXPENSE, commission_fen, share.party,
                         "")])
