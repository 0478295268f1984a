"""The regulatory parameters: the VAT on premium is read with the all-in cost cap, and a rate
that is no fraction is refused when the file is read."""

from __future__ import annotations

from decimal import Decimal
from importlib import resources
from pathlib import Path

import pytest

from xinbao.parameters import load_parameters


def _with_vat(tmp_path: Path, rate: str) -> Path:
    shipped = resources.files("xinbao.params").joinpath("regulatory.toml").read_text("utf-8")
    changed = shipped.replace('premium_rate = "0.06"', f'premium_rate = "{rate}"')
    assert changed != shipped
    path = tmp_path / "regulatory.toml"
    path.write_text(changed, encoding="utf-8")
    return path


def test_the_shipped_vat_on_premium_is_six_per_cent_with_its_source():
    p = load_parameters()
    assert p.vat_rate == Decimal("0.06")
    assert "财税〔2016〕36号" in p.raw["vat"]["source"]


def test_a_vat_rate_outside_zero_to_one_is_refused(tmp_path):
    assert load_parameters(_with_vat(tmp_path, "0")).vat_rate == 0
    for rate in ("1", "-0.01", "6"):
        with pytest.raises(ValueError, match="premium_rate"):
            load_parameters(_with_vat(tmp_path, rate))
