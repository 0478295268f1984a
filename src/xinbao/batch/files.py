"""The funder's files on disk (issue 21): read as a table of text columns, hashed, and their
manifests loaded. The adapter in front of ``batch.feeds``, whose checks are pure."""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import BinaryIO

import polars as pl

from xinbao.batch.feeds import ROW, Manifest
from xinbao.kernel.errors import InvalidInput


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
        renames = {k: v for k, v in mapping.items() if k in frame.columns}
        named = [renames.get(c, c) for c in frame.columns]
        twice = sorted({c for c in named if named.count(c) > 1})
        if twice:  # the funder sent a column of ours and one of its own named as it
            raise FileRefused("feed.mapping", "two columns named " + ", ".join(twice)
                              + " once the funder's names are mapped to ours")
        frame = frame.rename(renames)
    if ROW in frame.columns:
        raise FileRefused("feed.columns", f"a column may not be named {ROW} (the row's number)")
    return frame.with_row_index(ROW, offset=1).with_columns(pl.col(ROW).cast(pl.Int64))


#: The largest manifest taken with an upload.
MAX_MANIFEST_BYTES = 65_536


def manifest_of(stream: BinaryIO) -> Manifest:
    """An uploaded manifest (JSON, at most ``MAX_MANIFEST_BYTES``); refused with
    ``feed.manifest`` when it cannot be read as one."""
    text = stream.read(MAX_MANIFEST_BYTES + 1)
    if len(text) > MAX_MANIFEST_BYTES:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"a manifest is at most {MAX_MANIFEST_BYTES:,} bytes")
    try:
        data = json.loads(text.decode("utf-8"))
        if not isinstance(data, dict):
            raise ValueError("not a JSON object")
        return Manifest.from_data(data)
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise InvalidInput.single("manifest", "feed.manifest",
                                  f"the manifest cannot be read: {e}") from None


def upload_name(given: str | None) -> str:
    """The name an uploaded file came with, as its report says it: its last part only,
    without control characters, at most 200 characters, its suffix kept (CSV unless
    ``.parquet``)."""
    name = "".join(ch for ch in Path((given or "").replace("\\", "/")).name
                   if ch.isprintable()).strip()
    if not name or name in (".", ".."):
        return "upload.csv"
    suffix = Path(name).suffix if Path(name).suffix.lower() in (".csv", ".parquet") else ""
    return name[:200 - len(suffix)] + suffix if len(name) > 200 else name


def read_upload(stream: BinaryIO, name: str,
                mapping: dict[str, str] | None) -> tuple[pl.DataFrame, str]:
    """An uploaded file read as ``read`` reads one on disk (through a temporary copy), and
    its content's hash; refused with the rule ``read`` gives when it is not a table."""
    with tempfile.TemporaryDirectory(prefix="xinbao-feed-") as folder:
        path = Path(folder) / name
        with path.open("wb") as copy:
            shutil.copyfileobj(stream, copy, 1 << 20)
        try:
            raw = read(path, mapping)
        except FileRefused as refused:
            raise InvalidInput.single("file", refused.rule, refused.message) from None
        return raw, content_hash(path)
