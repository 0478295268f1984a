"""The types, base model and answers that every area's wire schemas share."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date
from decimal import Decimal
from typing import Annotated, Any

import orjson
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    field_validator,
)

Rate = Annotated[Decimal, PlainSerializer(lambda d: str(d), return_type=str, when_used="json")]
#: Storage holds 64-bit integers; larger numbers are refused at the edge (422), not by the
#: database (500).
BIGINT_MAX = 2**63 - 1


def _no_bool(value: Any) -> Any:
    """JSON ``true`` is not the number 1: a boolean where a number belongs is refused."""
    if isinstance(value, bool):
        raise ValueError("a number is expected, not true or false")
    return value


NotBool = BeforeValidator(_no_bool)
Fen = Annotated[int, NotBool, Field(ge=-BIGINT_MAX, le=BIGINT_MAX,
                                    description="amount in integer fen (1 yuan = 100 fen)")]
Id = Annotated[int, NotBool, Field(ge=1, le=BIGINT_MAX)]
Count = Annotated[int, NotBool, Field(ge=0, le=10_000)]  # installment numbers, terms in months


class StrictIn(BaseModel):
    """What a request body may be: no unknown fields, no NUL characters."""

    model_config = ConfigDict(extra="forbid")

    @field_validator("*", mode="before")
    @classmethod
    def _no_nul(cls, value: Any) -> Any:
        """NUL characters are refused (422): PostgreSQL text cannot hold them."""
        if isinstance(value, str) and "\x00" in value:
            raise ValueError("text cannot contain NUL characters")
        return value


class OnDate(StrictIn):
    on: date | None = Field(default=None, description="business date; today when omitted")


class ErrorOut(BaseModel):
    detail: str


class FieldErrorOut(BaseModel):
    loc: list[str | int]
    msg: str
    type: str


class HealthOut(BaseModel):
    status: str
    database: str
    schema_revision: str | None
    schema_current: bool


def _json_default(value: Any) -> str:
    if isinstance(value, Decimal):
        return str(value)  # as ``Rate`` writes it
    raise TypeError(f"{type(value).__name__} is not in the answer's schema")


def dump_json(fields: Mapping[str, Any]) -> bytes:
    """An answer's JSON from its model's fields (``*_fields``, nested as the model nests
    them), byte for byte what the model's ``model_dump_json`` writes: compact, UTF-8, dates
    ISO 8601 and rates as decimal strings. For the decision answers sent by the thousand,
    where building and validating the models cost a third of the answer's time; the models
    stay the schema, and the tests hold the two to the same bytes."""
    return orjson.dumps(fields, default=_json_default)


def stored(id_: int | None) -> int:
    """The id of an object read from storage or just written to it (which always has one)."""
    if id_ is None:
        raise ValueError("an object not yet stored has no id to show")
    return id_
