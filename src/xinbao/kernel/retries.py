"""Use cases run again after a write conflict with a concurrent one.

Every write use case runs in one transaction and detects its own repeats (the same funder
reference, the same claim paid, the same contract issued). So when a concurrent request
commits the same change first, the loser's transaction is rolled back (``WriteConflict``)
and running it again answers with the winner's result, writing nothing: one effect, one
event. ``retried`` does that, in one place for the API, the CLI and the batch jobs.
"""

from __future__ import annotations

import functools
import random
import time
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from xinbao.kernel.errors import WriteConflict

#: Runs of a use case in all. The second run meets the winner's commit (its repeat), so a
#: third is rare; what still conflicts then is answered as a conflict (409, exit 4).
ATTEMPTS = 3
#: The longest pause before a run again, in seconds (random, so that losers spread out).
MAX_PAUSE_S = 0.02

P = ParamSpec("P")
T = TypeVar("T")


def retried(use_case: Callable[P, T]) -> Callable[P, T]:
    """``use_case`` run again, up to ``ATTEMPTS`` runs, while it raises ``WriteConflict``.

    Only for use cases that open their own unit of work (a rolled-back run leaves nothing
    behind) and see a repeat of themselves as one (the second run changes nothing).
    """

    @functools.wraps(use_case)
    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(1, ATTEMPTS):
            try:
                return use_case(*args, **kwargs)
            except WriteConflict:
                time.sleep(random.uniform(0, MAX_PAUSE_S * attempt))  # noqa: S311 - jitter
        return use_case(*args, **kwargs)

    return run
