"""Daily snapshots as Parquet, one folder a business day (``date=YYYY-MM-DD/`` with
``loans.parquet`` and ``aggregates.parquet``) under the snapshot folder (setting
``XINBAO_SNAPSHOT_DIR``, default ``out/snapshots``).

A day is written into a temporary folder beside it and then renamed into place, replacing the
day's earlier snapshot: a crash leaves either the old snapshot or the new one, never half of
one (a leftover temporary folder is removed by the next write)."""

from __future__ import annotations

import os
import shutil
import uuid
from datetime import date
from pathlib import Path

import polars as pl


class ParquetSnapshots:
    def __init__(self, root: Path) -> None:
        self.root = root

    def folder(self, on: date) -> Path:
        return self.root / f"date={on.isoformat()}"

    def write(self, on: date, loans: pl.DataFrame, aggregates: pl.DataFrame) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        for stale in self.root.glob(f".{self.folder(on).name}.*"):
            shutil.rmtree(stale, ignore_errors=True)
        staging = self.root / f".{self.folder(on).name}.{uuid.uuid4().hex}"
        staging.mkdir()
        loans.write_parquet(staging / "loans.parquet")
        aggregates.write_parquet(staging / "aggregates.parquet")
        for name in ("loans.parquet", "aggregates.parquet"):
            with (staging / name).open("rb") as f:
                os.fsync(f.fileno())
        target = self.folder(on)
        if target.exists():
            retired = self.root / f".{target.name}.{uuid.uuid4().hex}.old"
            target.rename(retired)
            staging.rename(target)
            shutil.rmtree(retired, ignore_errors=True)
        else:
            staging.rename(target)

    def read(self, on: date) -> tuple[pl.DataFrame, pl.DataFrame] | None:
        folder = self.folder(on)
        if not folder.exists():
            return None
        return (pl.read_parquet(folder / "loans.parquet"),
                pl.read_parquet(folder / "aggregates.parquet"))
