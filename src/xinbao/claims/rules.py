"""The claims parameters shipped with the system (``params/claims.toml``, with the rate cap
of ``params/regulatory.toml``), read once. A use case takes parameters given to it (a test,
another file: ``xinbao.parameters.load_claim_parameters``) or these."""

from __future__ import annotations

import functools
import tomllib
from decimal import Decimal
from importlib import resources

from xinbao.claims.model import ClaimParameters, parse_claim_parameters


def _shipped_file(name: str) -> str:
    return resources.files("xinbao.params").joinpath(name).read_text("utf-8")


@functools.cache
def shipped() -> ClaimParameters:
    cap = Decimal(tomllib.loads(_shipped_file("regulatory.toml"))["all_in_cost"]["cap"])
    return parse_claim_parameters(tomllib.loads(_shipped_file("claims.toml")), rate_cap=cap)
