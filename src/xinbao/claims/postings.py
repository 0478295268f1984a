"""Claim posting templates: the case reserve as it moves, the indemnity paid, and money
recovered after payment.

Pure: each template takes the business values (integer fen, dates, ids) and returns the
journal entry, or None when every amount is zero; `claims/services.py` posts them. Each is
keyed by its claim (and a recovery by its receipt), so re-running a step never posts twice.
Claims incurred = claims paid + change in claim reserve − recoveries
(`ledger/model.underwriting_statement`).
"""

from __future__ import annotations

from datetime import date

from xinbao.ledger.model import (
    BANK,
    CLAIM_RESERVE,
    CLAIM_RESERVE_CHARGE,
    CLAIMS_PAID,
    PREMIUM_RECEIVABLE,
    RECOVERIES,
    JournalEntry,
    entry,
)


def claim_reference(claim_id: int) -> str:
    """The ledger's reference to one claim."""
    return f"claim:{claim_id}"


def claim_reserve_moved(
    *, on: date, claim_id: int, policy_no: str, change_fen: int, step: str,
) -> JournalEntry | None:
    """The claim's case reserve (未决赔款准备金) moves by ``change_fen``: set when the claim
    stands, adjusted when it is assessed again, released when it is declined (Dr change in
    claim reserve / Cr claim reserve, the other way round for a release). ``step`` names the
    move within the claim (``a3``: its third assessment), so each posts once."""
    reference = claim_reference(claim_id)
    moves = ([(CLAIM_RESERVE_CHARGE, CLAIM_RESERVE, change_fen)] if change_fen > 0
             else [(CLAIM_RESERVE, CLAIM_RESERVE_CHARGE, -change_fen)])
    return entry(on=on, description=f"Claim reserve for claim {claim_id} on {policy_no}",
                 source="ClaimReserve", key=f"{reference}:reserve:{step}", reference=reference,
                 moves=moves)


def indemnity_paid(*, on: date, claim_id: int, amount_fen: int,
                   reserve_fen: int) -> JournalEntry | None:
    """The insured (the funder) is paid (Dr claims paid 赔付支出 / Cr bank) and the claim's
    reserve released (Dr claim reserve / Cr change in claim reserve)."""
    reference = claim_reference(claim_id)
    return entry(on=on, description=f"Indemnity paid on claim {claim_id}", source="PayClaim",
                 key=reference, reference=reference,
                 moves=[(CLAIMS_PAID, BANK, amount_fen),
                        (CLAIM_RESERVE, CLAIM_RESERVE_CHARGE, reserve_fen)])


def premium_netted(*, on: date, claim_id: int, policy_no: str,
                   amount_fen: int) -> JournalEntry | None:
    """The installment premium the policy left unpaid, netted against the indemnity paid on
    its claim (the wording's consequence of unpaid premium in guarantee insurance): the
    payment to the insured is that much less (Dr bank / Cr premium receivable). Once per
    claim."""
    reference = claim_reference(claim_id)
    return entry(on=on, description=f"Unpaid premium of {policy_no} netted against claim "
                                    f"{claim_id}",
                 source="NetPremium", key=reference, reference=reference,
                 moves=[(BANK, PREMIUM_RECEIVABLE, amount_fen)])


def recovery_received(
    *, on: date, claim_id: int, amount_fen: int, recovered_from: str, receipt: str,
) -> JournalEntry | None:
    """Money recovered from the obligor after payment (subrogation 代位追偿): Dr bank / Cr
    recoveries 追偿款收入, a contra-expense. ``recovered_from`` is where the money came from
    (borrower, guarantor, collateral, …), ``receipt`` its reference: once per receipt.
    """
    reference = claim_reference(claim_id)
    return entry(on=on, description=f"Recovery on claim {claim_id} ({recovered_from})",
                 source="RecordRecovery", key=f"{reference}:{receipt}", reference=reference,
                 moves=[(BANK, RECOVERIES, amount_fen)])
