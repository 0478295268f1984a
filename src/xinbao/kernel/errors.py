"""Errors raised for refused commands.

Rule outcomes are values (findings); a command that cannot be carried out raises one of these,
naming every field and rule that refused it so that the CLI and the API can show them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeVar

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class FieldError:
    field: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message} [{self.rule}]"


class DomainError(Exception):
    """Base class of every refusal the domain or a use case raises on purpose."""


class InvalidInput(DomainError):
    """The command's input breaks one or more rules; nothing was written."""

    def __init__(self, errors: list[FieldError] | FieldError) -> None:
        self.errors: tuple[FieldError, ...] = (
            (errors,) if isinstance(errors, FieldError) else tuple(errors)
        )
        super().__init__("; ".join(str(e) for e in self.errors))

    @classmethod
    def single(cls, field: str, rule: str, message: str) -> InvalidInput:
        return cls(FieldError(field, rule, message))


class NotFound(DomainError):
    """A referenced object does not exist."""

    def __init__(self, kind: str, key: object) -> None:
        self.kind = kind
        self.key = key
        super().__init__(f"{kind} {key!r} not found")


def require(value: T | None, kind: str, key: object) -> T:
    """``value``, or NotFound when a lookup came back empty."""
    if value is None:
        raise NotFound(kind, key)
    return value


class IllegalTransition(DomainError):
    """A state machine refused a transition."""

    def __init__(self, kind: str, key: object, current: str, action: str) -> None:
        self.kind = kind
        self.key = key
        self.current = current
        self.action = action
        super().__init__(f"{kind} {key!r} is {current}: cannot {action}")


class Conflict(DomainError):
    """The command clashes with what is already recorded (duplicate, wrong state of data)."""


def collect(*checks: FieldError | None) -> list[FieldError]:
    """Keep the failed checks of a list of optional findings."""
    return [c for c in checks if c is not None]
