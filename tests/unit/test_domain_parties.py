"""Borrowers, funders and the roles each insurance mode gives them."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from xinbao.catalogue.model.agreements import Agreement, FileFormat, next_version
from xinbao.catalogue.model.parties import (
    Borrower,
    Funder,
    FunderKind,
    InsuranceMode,
    PartyKind,
    PolicyRole,
    Roles,
    assign_roles,
)
from xinbao.kernel.errors import InvalidInput

RESIDENT_ID = "11010519491231002X"
CREDIT_CODE_BANK = "911100001000033177"
CREDIT_CODE_SME = "91310101MA1FPX1R3U"
PHONE = "13812345678"
BANK_CARD = "6222021234567890128"


def individual(**changes: object) -> Borrower:
    fields = {"name": "张三", "id_number": RESIDENT_ID, "phone": PHONE, "bank_card": BANK_CARD}
    return Borrower.individual(**{**fields, **changes})


def enterprise(**changes: object) -> Borrower:
    fields = {"name": "示例科技有限公司", "credit_code": CREDIT_CODE_SME, "phone": PHONE}
    return Borrower.enterprise(**{**fields, **changes})


def funder(**changes: object) -> Funder:
    fields = {"code": "BANK-A", "name": "示例银行股份有限公司", "credit_code": CREDIT_CODE_BANK,
              "kind": FunderKind.BANK, "licensed": True, "commission_rate": Decimal("0.10"),
              "products": ("CONSUMER-G",)}
    return Funder(**{**fields, **changes})


def refusal(build, **changes: object) -> set[tuple[str, str]]:
    with pytest.raises(InvalidInput) as info:
        build(**changes)
    return {(e.field, e.rule) for e in info.value.errors}


# --- borrowers --------------------------------------------------------------------------------


def test_individual_borrower_is_normalized_and_carries_birth_date():
    b = individual(name="  张三 ", id_number="110105 19491231 002x", phone="138-1234-5678",
                   bank_card="6222 0212 3456 7890 128")
    assert b.kind is PartyKind.INDIVIDUAL
    assert b.name == "张三"
    assert b.id_number == RESIDENT_ID
    assert b.phone == PHONE
    assert b.bank_card == BANK_CARD
    assert b.birth_date == date(1949, 12, 31)


def test_individual_borrower_age_is_taken_from_the_id_number():
    b = individual()
    assert b.age_on(date(2025, 12, 30)) == 75
    assert b.age_on(date(2025, 12, 31)) == 76


def test_individual_borrower_without_bank_card_is_accepted():
    assert individual(bank_card=None).bank_card is None


def test_individual_borrower_reports_every_broken_field_at_once():
    assert refusal(individual, name=" ", id_number="11010519491231002Y", phone="12345",
                   bank_card="6222021234567890120") == {
        ("borrower_name", "name.required"),
        ("borrower_id_number", "resident_id.gb11643"),
        ("borrower_phone", "phone.cn_mobile"),
        ("borrower_bank_card", "bank_card.luhn"),
    }


def test_individual_borrower_errors_use_the_given_field_prefix():
    assert refusal(individual, phone="1", prefix="co_borrower.") == {
        ("co_borrower.phone", "phone.cn_mobile"),
    }


def test_individual_borrower_refuses_a_name_longer_than_200_characters():
    assert refusal(individual, name="名" * 201) == {("borrower_name", "name.length")}
    assert individual(name="名" * 200).name == "名" * 200


def test_individual_borrower_refuses_a_credit_code_as_id_number():
    assert refusal(individual, id_number=CREDIT_CODE_SME) == {
        ("borrower_id_number", "resident_id.gb11643"),
    }


def test_enterprise_borrower_is_normalized_and_has_no_age():
    b = enterprise(credit_code="91310101ma1fpx1r3u", bank_card=BANK_CARD)
    assert b.kind is PartyKind.ENTERPRISE
    assert b.id_number == CREDIT_CODE_SME
    assert b.bank_card == BANK_CARD
    assert b.birth_date is None
    assert b.age_on(date(2025, 1, 1)) is None


def test_enterprise_borrower_reports_every_broken_field_at_once():
    assert refusal(enterprise, name="", credit_code=RESIDENT_ID, phone="0213456789",
                   bank_card="62220") == {
        ("borrower_name", "name.required"),
        ("borrower_id_number", "credit_code.gb32100"),
        ("borrower_phone", "phone.cn_mobile"),
        ("borrower_bank_card", "bank_card.format"),
    }


def test_invalid_input_message_names_every_field_and_rule():
    with pytest.raises(InvalidInput) as info:
        individual(name="", phone="1")
    text = str(info.value)
    assert "borrower_name" in text and "[name.required]" in text
    assert "borrower_phone" in text and "[phone.cn_mobile]" in text


# --- funders ----------------------------------------------------------------------------------


def test_sound_funder_has_no_findings():
    assert funder().validate() == []
    assert funder(commission_rate=Decimal(0), code="cfc_1").validate() == []


@pytest.mark.parametrize("products", [(), ("CONSUMER-G", "CONSUMER-G")])
def test_a_funder_needs_an_agreement_naming_each_product_once(products):
    assert [e.rule for e in funder(products=products).validate()] == ["funder.products"]


@pytest.mark.parametrize(
    ("changes", "finding"),
    [
        ({"code": ""}, ("code", "funder.code")),
        ({"code": "BANK A"}, ("code", "funder.code")),
        ({"code": "银行!"}, ("code", "funder.code")),
        ({"name": "  "}, ("name", "name.required")),
        ({"credit_code": "911100001000033178"}, ("credit_code", "credit_code.gb32100")),
        ({"commission_rate": Decimal(1)}, ("commission_rate", "funder.commission_rate")),
        ({"commission_rate": Decimal("-0.01")}, ("commission_rate", "funder.commission_rate")),
    ],
)
def test_funder_validation_names_the_broken_field_and_rule(changes, finding):
    assert [(e.field, e.rule) for e in funder(**changes).validate()] == [finding]


def test_funder_validation_collects_every_finding():
    findings = funder(code="", name="", credit_code="x", commission_rate=Decimal(2)).validate()
    assert {e.field for e in findings} == {"code", "name", "credit_code", "commission_rate"}


# --- roles ------------------------------------------------------------------------------------

DEBTOR = RESIDENT_ID
CREDITOR = CREDIT_CODE_BANK


def test_credit_insurance_makes_the_creditor_policyholder_and_insured():
    roles = assign_roles(InsuranceMode.CREDIT, debtor_id=DEBTOR, creditor_id=CREDITOR)
    assert roles == Roles(policyholder=PolicyRole.CREDITOR, insured=PolicyRole.CREDITOR)


def test_guarantee_insurance_makes_the_debtor_policyholder_and_the_creditor_insured():
    roles = assign_roles(InsuranceMode.GUARANTEE, debtor_id=DEBTOR, creditor_id=CREDITOR)
    assert roles == Roles(policyholder=PolicyRole.DEBTOR, insured=PolicyRole.CREDITOR)


def test_credit_insurance_accepts_the_creditor_named_in_both_roles_in_any_spelling():
    roles = assign_roles(InsuranceMode.CREDIT, debtor_id=DEBTOR, creditor_id=CREDITOR,
                         policyholder_id="9111-0000-1000-0331-77", insured_id=CREDITOR)
    assert roles == Roles(PolicyRole.CREDITOR, PolicyRole.CREDITOR)


def test_guarantee_insurance_accepts_the_debtor_as_policyholder_and_creditor_as_insured():
    roles = assign_roles(InsuranceMode.GUARANTEE, debtor_id=DEBTOR, creditor_id=CREDITOR,
                         policyholder_id="11010519491231002x", insured_id=CREDITOR)
    assert roles == Roles(PolicyRole.DEBTOR, PolicyRole.CREDITOR)


@pytest.mark.parametrize(
    ("mode", "given", "expected"),
    [
        (InsuranceMode.CREDIT, {"policyholder_id": DEBTOR},
         {("policyholder_id", "roles.credit.policyholder")}),
        (InsuranceMode.CREDIT, {"insured_id": DEBTOR},
         {("insured_id", "roles.credit.insured")}),
        (InsuranceMode.GUARANTEE, {"policyholder_id": CREDITOR},
         {("policyholder_id", "roles.guarantee.policyholder")}),
        (InsuranceMode.GUARANTEE, {"insured_id": DEBTOR},
         {("insured_id", "roles.guarantee.insured")}),
        (InsuranceMode.GUARANTEE, {"policyholder_id": CREDITOR, "insured_id": DEBTOR},
         {("policyholder_id", "roles.guarantee.policyholder"),
          ("insured_id", "roles.guarantee.insured")}),
        (InsuranceMode.CREDIT, {"policyholder_id": "91310101MA1FPX1R3U"},
         {("policyholder_id", "roles.credit.policyholder")}),  # a third party
    ],
)
def test_a_role_held_by_the_wrong_party_is_refused_naming_field_and_rule(mode, given, expected):
    with pytest.raises(InvalidInput) as info:
        assign_roles(mode, debtor_id=DEBTOR, creditor_id=CREDITOR, **given)
    assert {(e.field, e.rule) for e in info.value.errors} == expected


def test_refused_guarantee_policyholder_message_says_it_must_be_the_debtor():
    with pytest.raises(InvalidInput, match="policyholder must be the debtor"):
        assign_roles(InsuranceMode.GUARANTEE, debtor_id=DEBTOR, creditor_id=CREDITOR,
                     policyholder_id=CREDITOR)


# --- cooperation agreements (合作协议) ---------------------------------------------------------


def agreement(**changes: object) -> Agreement:
    fields = {"funder_code": "BANK-A", "version": 1, "effective_from": date(2025, 1, 1),
              "products": ("CONSUMER-G", "CAR-G"), "commission_rate": Decimal("0.08"),
              "volume_share": Decimal("0.4"), "risk_share": Decimal("0.1"),
              "settlement_days": 30, "file_format": FileFormat.CSV}
    return Agreement(**{**fields, **changes})


def test_a_sound_agreement_has_no_findings():
    assert agreement().validate() == []
    assert agreement(volume_share=None, risk_share=Decimal(0), settlement_days=1,
                     file_format="jsonl", commission_rate=Decimal(0)).validate() == []
    assert agreement(volume_share=Decimal(1), settlement_days=366).validate() == []


@pytest.mark.parametrize(("changes", "finding"), [
    ({"products": ()}, ("products", "funder.products")),
    ({"products": ("CONSUMER-G", "CONSUMER-G")}, ("products", "funder.products")),
    ({"products": ("",)}, ("products", "funder.products")),
    ({"commission_rate": Decimal(1)}, ("commission_rate", "funder.commission_rate")),
    ({"commission_rate": Decimal("NaN")}, ("commission_rate", "funder.commission_rate")),
    ({"volume_share": Decimal(0)}, ("volume_share", "agreement.volume_share")),
    ({"volume_share": Decimal("1.01")}, ("volume_share", "agreement.volume_share")),
    ({"risk_share": Decimal(1)}, ("risk_share", "agreement.risk_share")),
    ({"risk_share": Decimal("-0.1")}, ("risk_share", "agreement.risk_share")),
    ({"settlement_days": 0}, ("settlement_days", "agreement.settlement_days")),
    ({"settlement_days": 367}, ("settlement_days", "agreement.settlement_days")),
    ({"file_format": "xml"}, ("file_format", "agreement.file_format")),
    ({"claim_notice_days": -1}, ("claim_notice_days", "agreement.claim_notice_days")),
    ({"premium_grace_days": 366}, ("premium_grace_days", "agreement.premium_grace_days")),
])
def test_agreement_validation_names_the_broken_field_and_rule(changes, finding):
    assert [(e.field, e.rule) for e in agreement(**changes).validate()] == [finding]


def test_the_next_version_is_numbered_after_the_newest():
    v1 = agreement()
    v2 = next_version(v1, agreement(commission_rate=Decimal("0.05"),
                                    effective_from=date(2025, 3, 1)), on=date(2025, 3, 1))
    assert v2 is not None
    assert (v2.version, v2.commission_rate, v2.products) == (2, Decimal("0.05"), v1.products)


def test_repeating_the_newest_versions_terms_stores_nothing_whatever_the_date():
    assert next_version(agreement(), agreement(effective_from=date(2025, 6, 1)),
                        on=date(2025, 6, 1)) is None


def test_a_version_cannot_take_effect_before_the_newest_or_after_the_day_it_is_stored():
    v1 = agreement(effective_from=date(2025, 3, 1))
    with pytest.raises(InvalidInput) as earlier:
        next_version(v1, agreement(settlement_days=15, effective_from=date(2025, 2, 1)),
                     on=date(2025, 3, 5))
    assert [e.rule for e in earlier.value.errors] == ["agreement.version_order"]
    with pytest.raises(InvalidInput) as ahead:
        next_version(v1, agreement(settlement_days=15, effective_from=date(2025, 4, 1)),
                     on=date(2025, 3, 5))
    assert [e.rule for e in ahead.value.errors] == ["agreement.effective_from"]


def test_a_new_version_names_every_broken_term_and_date_at_once():
    with pytest.raises(InvalidInput) as refused:
        next_version(agreement(), agreement(risk_share=Decimal(2), file_format="xls",
                                            effective_from=date(2024, 1, 1)),
                     on=date(2025, 3, 5))
    assert {e.rule for e in refused.value.errors} == {
        "agreement.risk_share", "agreement.file_format", "agreement.version_order"}


def test_a_funder_is_registered_under_its_agreement_and_the_registration_is_recorded():
    f = Funder.register(code=" CFC-1 ", name=" 示例消费金融 ", credit_code="91310115MA1K3YJ12G",
                        kind=FunderKind.CONSUMER_FINANCE, licensed=True, agreement=agreement())
    assert (f.code, f.name, f.products, f.commission_rate) == (
        "CFC-1", "示例消费金融", ("CONSUMER-G", "CAR-G"), Decimal("0.08"))
    [registered] = f.events
    assert (registered.name, registered.on) == ("FunderRegistered", date(2025, 1, 1))
    assert registered.data["agreement"]["settlement_days"] == 30


def test_a_funders_registration_names_every_broken_rule_of_funder_and_agreement_at_once():
    with pytest.raises(InvalidInput) as refused:
        Funder.register(code="BANK A", name="", credit_code="x", kind=FunderKind.BANK,
                        licensed=True, agreement=agreement(settlement_days=0))
    assert {e.field for e in refused.value.errors} == {
        "code", "name", "credit_code", "settlement_days"}


def test_a_funder_adopts_a_new_version_and_records_it():
    f = funder(id=3)
    f.adopt(agreement(version=2, products=("SME-C",), commission_rate=Decimal("0.02")),
            on=date(2025, 4, 1))
    assert (f.products, f.commission_rate) == (("SME-C",), Decimal("0.02"))
    [amended] = f.events
    assert (amended.name, amended.aggregate_id, amended.data["version"]) == (
        "AgreementAmended", 3, 2)


def test_an_agreement_reads_back_from_json_as_it_was_written():
    data = agreement(volume_share=None).as_data()
    assert data == {"funder": "BANK-A", "version": 1, "effective_from": "2025-01-01",
                    "products": ["CONSUMER-G", "CAR-G"], "commission_rate": "0.08",
                    "volume_share": None, "risk_share": "0.1", "settlement_days": 30,
                    "file_format": "csv", "feed_mapping": {}, "claim_notice_days": 30,
                    "premium_grace_days": 30, "premium_collector": "insurer"}
