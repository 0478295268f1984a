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


class WriteConflict(Exception):
    """A concurrent transaction wrote the same records first (a unique index, a row lock, a
    serialization failure, SQLite's one writer, a state changed since it was read); nothing
    of this one is kept.

    The unit of work raises it in place of the database's error, and a use case whose
    conditional update matched no row raises it itself. Running the use case again is the
    cure (``kernel.retries.retried`` does so): its repeat detection then finds what the
    winner committed. Not a ``DomainError``: a file's loop that refuses bad items one by one
    lets it through, so the whole transaction is rolled back and run again. The edges answer
    one left after the retries as a conflict (409, exit 4).
    """

    def __init__(self, message: str = "a concurrent request changed the same records first; "
                                      "nothing of this one was kept: send it again") -> None:
        super().__init__(message)


def collect(*checks: FieldError | None) -> list[FieldError]:
    """Keep the failed checks of a list of optional findings."""
    return [c for c in checks if c is not None]
