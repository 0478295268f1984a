"""``kernel.retries.retried``: a use case run again after a write conflict, and only then."""

from __future__ import annotations

import pytest

from xinbao.kernel import retries
from xinbao.kernel.errors import Conflict, DomainError, WriteConflict


@pytest.fixture(autouse=True)
def no_pause(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retries, "MAX_PAUSE_S", 0)


def counting(outcomes: list[BaseException | str]) -> tuple[list[int], object]:
    """A use case that raises or returns ``outcomes`` in turn; the runs it made."""
    runs: list[int] = []

    @retries.retried
    def use_case(x: int, *, y: int) -> str:
        runs.append(x + y)
        outcome = outcomes[len(runs) - 1]
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return runs, use_case


def test_a_run_that_lost_a_race_runs_again_and_answers_with_the_next_run() -> None:
    runs, use_case = counting([WriteConflict(), "the winner's result"])

    assert use_case(1, y=2) == "the winner's result"  # type: ignore[operator]
    assert runs == [3, 3]


def test_the_last_conflict_is_raised_after_every_attempt() -> None:
    runs, use_case = counting([WriteConflict()] * retries.ATTEMPTS)

    with pytest.raises(WriteConflict):
        use_case(1, y=1)  # type: ignore[operator]
    assert len(runs) == retries.ATTEMPTS


@pytest.mark.parametrize("error", [Conflict("insured already"), RuntimeError("a fault")])
def test_other_errors_are_not_retried(error: Exception) -> None:
    runs, use_case = counting([error, "never"])

    with pytest.raises(type(error)):
        use_case(0, y=0)  # type: ignore[operator]
    assert runs == [0]


def test_a_write_conflict_is_no_refusal_of_the_command_itself() -> None:
    """A file's loop refuses bad items (``DomainError``) one by one; a write conflict must
    roll the whole transaction back instead, to be run again."""
    assert not isinstance(WriteConflict(), DomainError)
    assert "concurrent" in str(WriteConflict())
