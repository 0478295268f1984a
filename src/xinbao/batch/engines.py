"""Where the batch's kernels run: in this process over partitions (``LocalEngine``), or on a
Dask distributed cluster (``DaskEngine``: a scheduler's address, or a ``LocalCluster`` made
for the run), the same kernels mapped over the same partitions (issue 21).

A kernel is a pure function of frames and plain values returning a frame; an engine maps it
over a list of argument tuples, one per partition, and returns the results in order.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, Protocol

import polars as pl

Kernel = Callable[..., pl.DataFrame]


class Engine(Protocol):
    #: How many partitions the batch cuts the book into.
    partitions: int

    def map(self, kernel: Kernel, calls: Sequence[tuple[Any, ...]]) -> list[pl.DataFrame]: ...
    def close(self) -> None: ...


class LocalEngine:
    """The kernels in this process, a partition after another (Polars uses the cores)."""

    def __init__(self, partitions: int = 1) -> None:
        if partitions < 1:
            raise ValueError("at least one partition")
        self.partitions = partitions

    def map(self, kernel: Kernel, calls: Sequence[tuple[Any, ...]]) -> list[pl.DataFrame]:
        return [kernel(*args) for args in calls]

    def close(self) -> None:
        """Nothing to let go of."""


class DaskEngine:
    """The kernels on a Dask distributed cluster: the scheduler at ``address``, or a
    ``LocalCluster`` of ``workers`` processes started for the engine's life (``close``)."""

    def __init__(self, address: str | None = None, *, partitions: int = 8, workers: int = 2,
                 processes: bool = True) -> None:
        from distributed import Client, LocalCluster

        self.partitions = partitions
        self._cluster = None if address else LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=processes,
            dashboard_address=None)
        self._client = Client(address or self._cluster)

    def map(self, kernel: Kernel, calls: Sequence[tuple[Any, ...]]) -> list[pl.DataFrame]:
        futures = [self._client.submit(kernel, *args, pure=False) for args in calls]
        return list(self._client.gather(futures))

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()

    def __enter__(self) -> DaskEngine:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def by_hash(frame: pl.DataFrame, column: str, partitions: int) -> list[pl.DataFrame]:
    """``frame`` cut into ``partitions`` by a stable hash of ``column`` (each value's rows in
    one partition, the same partition on every run and engine)."""
    if partitions == 1:
        return [frame]
    part = pl.col(column).hash(seed=0) % partitions
    keyed = frame.with_columns(part.alias("_partition"))
    return [keyed.filter(pl.col("_partition") == i).drop("_partition")
            for i in range(partitions)]
