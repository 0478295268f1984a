"""Daily snapshots as Parquet, one folder a business day (``date=YYYY-MM-DD/`` with
``loans.parquet`` and ``aggregates.parquet``) under the snapshot folder (setting
``XINBAO_SNAPSHOT_DIR``, default ``out/snapshots``), and ``signals.parquet``.

A day is written into a temporary folder beside it and then renamed into place, replacing the
day's earlier snapshot: a crash leaves either the old snapshot or the new one, never half of
one (a leftover temporary folder is removed by the next write)."""

from __future__ import annotations

import fcntl
import os
import shutil
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import polars as pl


class ParquetSnapshots:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, on: date) -> Path:
        return self.root / f"date={on.isoformat()}"

    def write(self, on: date, frames: dict[str, pl.DataFrame]) -> None:
        """Replace the day's snapshot with ``frames``; concurrent writers of one day take
        turns (an exclusive lock on the day's lock file), so that none removes the other's
        folder halfway."""
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock(on):
            self._replace(on, frames)

    @contextmanager
    def _lock(self, on: date) -> Iterator[None]:
        """The day's lock file held exclusively. It keeps the processes of one host apart;
        hosts sharing the folder over a network file system may each see only their own
        locks, and are kept apart by the day's lock in the database (``snapshot_day``)."""
        with (self.root / f".{self.folder(on).name}.lock").open("a") as lock:
            fcntl.flock(lock.fileno(), fcntl.LOCK_EX)
            yield

    def _replace(self, on: date, frames: dict[str, pl.DataFrame]) -> None:
        for stale in self.root.glob(f".{self.folder(on).name}.*"):
            if stale.suffix != ".lock":
                shutil.rmtree(stale, ignore_errors=True)
        staging = self.root / f".{self.folder(on).name}.{uuid.uuid4().hex}"
        staging.mkdir()
        for name, frame in frames.items():
            # zstd at its fastest level: at ten million loans a third faster than its
            # default level, and the file a little smaller than lz4's or snappy's half.
            frame.write_parquet(staging / f"{name}.parquet", compression="zstd",
                                compression_level=1)
            with (staging / f"{name}.parquet").open("rb") as f:
                os.fsync(f.fileno())
        target = self.folder(on)
        if target.exists():
            retired = self.root / f".{target.name}.{uuid.uuid4().hex}.old"
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)

    def days(self) -> list[date]:
        """The business days with a snapshot, newest first (a day being written, in its
        temporary folder, is not one yet)."""
        if not self.root.is_dir():
            return []
        found = []
        for folder in self.root.iterdir():
            name = folder.name
            if folder.is_dir() and name.startswith("date="):
                try:
                    found.append(date.fromisoformat(name.removeprefix("date=")))
                except ValueError:
                    continue
        return sorted(found, reverse=True)

    def frame(self, on: date, name: str,
              columns: Sequence[str] | None = None) -> pl.DataFrame | None:
        """One frame of the day's snapshot (only ``columns`` of it, if named); None when the
        day has no snapshot or the snapshot no such frame."""
        path = self.folder(on) / f"{name}.parquet"
        if not path.is_file():
            return None
        return pl.read_parquet(path, columns=list(columns) if columns is not None else None)

    def read(self, on: date) -> dict[str, pl.DataFrame] | None:
        folder = self.folder(on)
        if not folder.exists():
            return None
        return {f.stem: pl.read_parquet(f) for f in sorted(folder.glob("*.parquet"))}
