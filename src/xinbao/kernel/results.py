"""Results of file-style use cases: what was taken and what was refused, row by row."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

from xinbao.kernel.errors import DomainError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Rejection:
    """A row of a file that was refused, and why; nothing of it was written."""

    index: int  # position in the file, from 0
    reference: str
    error: DomainError


@dataclass(frozen=True, slots=True)
class FileOutcome(Generic[T]):
    accepted: tuple[T, ...]
    rejected: tuple[Rejection, ...]
