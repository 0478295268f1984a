"""Parties and the roles they hold on an insured loan.

Legal roles (DOMAIN §1): insurer 保险人; policyholder 投保人 (pays premium); insured 被保险人
(holds the claim right); creditor 权利人 (the funder); debtor 义务人 (the borrower).

- Credit insurance (信用保险): the creditor buys cover: creditor = policyholder = insured.
- Guarantee insurance (保证保险): the debtor buys cover: debtor = policyholder, creditor = insured.

``assign_roles`` enforces this from the product's mode; any other assignment is refused with
the field and rule named.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from enum import StrEnum

from xinbao.catalogue.model.agreements import Agreement, check_terms
from xinbao.kernel import identity
from xinbao.kernel.errors import FieldError, InvalidInput, collect
from xinbao.kernel.events import Event


class PartyKind(StrEnum):
    INDIVIDUAL = "individual"
    ENTERPRISE = "enterprise"


class InsuranceMode(StrEnum):
    CREDIT = "credit"  # 信用保险
    GUARANTEE = "guarantee"  # 保证保险


class FunderKind(StrEnum):
    BANK = "bank"
    CONSUMER_FINANCE = "consumer_finance"
    TRUST = "trust"
    MICRO_LOAN = "micro_loan"
    LEASING = "leasing"
    FACTORING = "factoring"


#: What stays of a borrower's name and numbers once the retention period has passed.
ANONYMIZED_NAME = "已匿名"
ANONYMIZED = "ANONYMIZED"


@dataclass(frozen=True, slots=True)
class Borrower:
    """The debtor (融资方): an individual or a small/micro enterprise, validated on creation."""

    kind: PartyKind
    name: str
    id_number: str  # resident ID for individuals, unified social credit code for enterprises
    phone: str
    bank_card: str | None = None
    birth_date: date | None = None

    @classmethod
    def individual(
        cls, *, name: str, id_number: str, phone: str, bank_card: str | None = None,
        prefix: str = "borrower_",
    ) -> Borrower:
        """A person, identified by a resident ID number (birth date derived from it)."""
        return cls._validated(PartyKind.INDIVIDUAL, identity.check_resident_id, name=name,
                              number=id_number, phone=phone, bank_card=bank_card, prefix=prefix)

    @classmethod
    def enterprise(
        cls, *, name: str, credit_code: str, phone: str, bank_card: str | None = None,
        prefix: str = "borrower_",
    ) -> Borrower:
        """A small or micro enterprise, identified by its unified social credit code."""
        return cls._validated(PartyKind.ENTERPRISE, identity.check_credit_code, name=name,
                              number=credit_code, phone=phone, bank_card=bank_card, prefix=prefix)

    @classmethod
    def _validated(cls, kind: PartyKind, check_number: Callable[[str, str], FieldError | None],
                   *, name: str, number: str, phone: str, bank_card: str | None,
                   prefix: str) -> Borrower:
        """Every broken rule at once (InvalidInput), or the borrower in normalized form."""
        errors = collect(
            _check_name(name, prefix + "name"),
            check_number(number, prefix + "id_number"),
            identity.check_phone(phone, prefix + "phone"),
            identity.check_bank_card(bank_card, prefix + "bank_card") if bank_card else None,
        )
        if errors:
            raise InvalidInput(errors)
        normalized = identity.normalize(number)
        return cls(
            kind=kind, name=name.strip(), id_number=normalized, phone=identity.normalize(phone),
            bank_card=identity.normalize(bank_card) if bank_card else None,
            birth_date=(identity.resident_birth_date(normalized)
                        if kind is PartyKind.INDIVIDUAL else None),
        )

    def age_on(self, on: date) -> int | None:
        return identity.age_on(self.birth_date, on) if self.birth_date else None


@dataclass(eq=False, slots=True)
class Funder:
    """A creditor (资金方) under a cooperation agreement with the insurer: the products it
    may sell with cover and its commission are those of the agreement's newest version
    (``model/agreements.py``), kept here for intake and the premium postings."""

    code: str
    name: str
    credit_code: str
    kind: FunderKind
    licensed: bool
    commission_rate: Decimal  # share of premium paid to the funder as channel fee
    products: tuple[str, ...] = ()  # product codes its cooperation agreement covers
    #: Who collects its borrowers' premium (``agreements.PremiumCollector``).
    premium_collector: str = "insurer"
    id: int | None = None
    events: list[Event] = field(default_factory=list, repr=False)

    @classmethod
    def register(cls, *, code: str, name: str, credit_code: str, kind: FunderKind,
                 licensed: bool, agreement: Agreement) -> Funder:
        """A new funder under ``agreement`` (its version 1), every broken rule of either
        refused at once (InvalidInput); its registration recorded for the audit trail."""
        funder = cls(code=code.strip(), name=name.strip(), credit_code=identity.normalize(
            credit_code), kind=kind, licensed=licensed,
            commission_rate=agreement.commission_rate, products=agreement.products,
            premium_collector=str(agreement.premium_collector))
        errors = funder.party_errors() + agreement.validate()
        if errors:
            raise InvalidInput(errors)
        funder.events.append(Event("FunderRegistered", "funder", None, agreement.effective_from, {
            "code": funder.code, "name": funder.name, "kind": kind.value, "licensed": licensed,
            "agreement": agreement.as_data()}))
        return funder

    def validate(self) -> list[FieldError]:
        return self.party_errors() + check_terms(self.products, self.commission_rate)

    def party_errors(self) -> list[FieldError]:
        """The rules on who the funder is: code, name and unified social credit code."""
        errors = collect(
            _check_name(self.name, "name"),
            identity.check_credit_code(self.credit_code, "credit_code"),
        )
        if not self.code or not self.code.replace("-", "").replace("_", "").isalnum() \
                or len(self.code) > 40:
            errors.append(FieldError("code", "funder.code",
                                     "code must be 1 to 40 letters, digits, - or _"))
        return errors

    def adopt(self, agreement: Agreement, *, on: date) -> None:
        """A new version of the agreement takes over: its products and commission become
        the funder's; recorded for the audit trail."""
        self.products = agreement.products
        self.commission_rate = agreement.commission_rate
        self.premium_collector = str(agreement.premium_collector)
        self.events.append(Event("AgreementAmended", "funder", self.id, on,
                                 agreement.as_data()))


def has_control_characters(text: str) -> bool:
    """Whether text holds control or format characters (line breaks, NUL, zero-width
    spaces, direction marks): never part of a name, a reference or a declared value, and
    a way to make two records look alike."""
    return any(unicodedata.category(ch) in ("Cc", "Cf", "Cs", "Co", "Cn") for ch in text)


def _check_name(name: str, field_name: str) -> FieldError | None:
    if not name or not name.strip():
        return FieldError(field_name, "name.required", "name is required")
    if len(name.strip()) > 200:
        return FieldError(field_name, "name.length", "name is longer than 200 characters")
    if has_control_characters(name):
        return FieldError(field_name, "text.control_characters",
                          "name cannot contain control or invisible characters")
    return None


class PolicyRole(StrEnum):
    """Who holds a role on a policy, named by the party's place in the loan."""

    DEBTOR = "debtor"
    CREDITOR = "creditor"


@dataclass(frozen=True, slots=True)
class Roles:
    policyholder: PolicyRole
    insured: PolicyRole


#: The only lawful role assignment per mode (DOMAIN §1).
_ROLES_BY_MODE = {
    InsuranceMode.CREDIT: Roles(policyholder=PolicyRole.CREDITOR, insured=PolicyRole.CREDITOR),
    InsuranceMode.GUARANTEE: Roles(policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR),
}


def assign_roles(
    mode: InsuranceMode,
    *,
    debtor_id: str,
    creditor_id: str,
    policyholder_id: str | None = None,
    insured_id: str | None = None,
) -> Roles:
    """Roles for a policy of ``mode``; a named policyholder or insured must fit the mode.

    Parties are compared by their normalized ID number or credit code. Omitted roles are
    derived from the mode.
    """
    expected = _ROLES_BY_MODE[mode]
    by_role = {PolicyRole.DEBTOR: identity.normalize(debtor_id),
               PolicyRole.CREDITOR: identity.normalize(creditor_id)}
    errors: list[FieldError] = []
    for field_name, given, role in (
        ("policyholder_id", policyholder_id, expected.policyholder),
        ("insured_id", insured_id, expected.insured),
    ):
        if given is not None and identity.normalize(given) != by_role[role]:
            who = "the debtor (borrower)" if role is PolicyRole.DEBTOR else "the creditor (funder)"
            errors.append(FieldError(
                field_name, f"roles.{mode.value}.{field_name.removesuffix('_id')}",
                f"in {mode.value} insurance the {field_name.removesuffix('_id')} must be {who}",
            ))
    if errors:
        raise InvalidInput(errors)
    return expected
