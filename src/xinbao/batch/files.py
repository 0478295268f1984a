"""The funder's files on disk (issue 21): read as a table of text columns, hashed, and their
manifests loaded. The adapter in front of ``batch.feeds``, whose checks are pure."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl

from xinbao.batch.feeds import ROW, Manifest


def load_manifest(path: Path) -> Manifest:
    """A manifest file (JSON, ``Manifest.from_data``)."""
    return Manifest.from_data(json.loads(path.read_text(encoding="utf-8")))


def content_hash(path: Path) -> str:
    """The file's SHA-256: the same content under another name is the same file."""
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class FileRefused(Exception):
    """A file that cannot be read as a table at all (its rule and why)."""

    def __init__(self, rule: str, message: str) -> None:
        super().__init__(f"{rule}: {message}")
        self.rule, self.message = rule, message


def read(path: Path, mapping: dict[str, str] | None = None) -> pl.DataFrame:
    """A CSV (UTF-8, with a header) or Parquet file as text columns, the funder's column
    names mapped to the schema's (``mapping``: theirs -> ours), each row numbered
    (``_row``). FileRefused when it cannot be read as a table."""
    try:
        if path.suffix.lower() == ".parquet":
            frame = pl.read_parquet(path)
            frame = frame.select(pl.col(c).cast(pl.String) for c in frame.columns)
        else:
            path.read_bytes().decode("utf-8")
            frame = pl.read_csv(path, infer_schema=False)
    except UnicodeDecodeError as e:
        raise FileRefused("feed.encoding", f"not UTF-8 (byte {e.start + 1})") from None
    except (pl.exceptions.PolarsError, OSError) as e:
        raise FileRefused("feed.unreadable", str(e).splitlines()[0][:200]) from None
    if mapping:
        frame = frame.rename({k: v for k, v in mapping.items() if k in frame.columns})
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))
