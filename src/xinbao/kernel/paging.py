"""One page of a list read on the server: which rows (sort key, direction, offset, size)
and what came back (the rows and how many there are in all)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Generic, TypeVar

T = TypeVar("T")

#: The most rows one page may ask for.
MAX_PAGE_SIZE = 500


@dataclass(frozen=True, slots=True)
class PageRequest:
    """Rows ``offset`` to ``offset + size`` in the order of ``sort`` (a key the list
    names; ties fall back to the id in the same direction)."""

    sort: str = "id"
    descending: bool = True
    offset: int = 0
    size: int = 50

    def __post_init__(self) -> None:
        if self.offset < 0 or not 1 <= self.size <= MAX_PAGE_SIZE:
            raise ValueError(f"a page is 1 to {MAX_PAGE_SIZE} rows from offset 0 or more")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: list[T]
    total: int
    request: PageRequest

    @property
    def number(self) -> int:
        """This page's number, from 1."""
        return self.request.offset // self.request.size + 1

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.request.size))
