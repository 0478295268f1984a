"""The text a PDF drawn by fpdf2 with an embedded CJK font shows, read back for tests (the
statements, the e-policy)."""

from __future__ import annotations

import io
import re

from pypdf import PageObject, PdfReader

ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f"}


def _unescape(literal: bytes) -> bytes:
    """A PDF literal string's bytes (ISO 32000-1, 7.3.4.2)."""
    def one(match: re.Match[bytes]) -> bytes:
        escaped = match.group(1)
        if escaped[:1].isdigit():
            return bytes([int(escaped, 8)])
        return ESCAPES.get(escaped, escaped)
    return re.sub(rb"\\([0-7]{1,3}|.)", one, literal, flags=re.DOTALL)


def text_runs(page: PageObject) -> list[str]:
    """Each string the page shows, decoded through its font's ToUnicode map.

    Read here rather than with pypdf's ``extract_text``, which decodes the two-byte codes of
    fpdf2's CID font one byte at a time (a NUL before every character).
    """
    fonts = page["/Resources"]["/Font"]
    (font,) = [fonts[name].get_object() for name in fonts]
    cmap = font["/ToUnicode"].get_object().get_data()
    to_unicode = {
        bytes.fromhex(code.decode()): bytes.fromhex(text.decode()).decode("utf-16-be")
        for block in re.findall(rb"beginbfchar(.*?)endbfchar", cmap, re.DOTALL)
        for code, text in re.findall(rb"<([0-9A-Fa-f]{4})>\s*<([0-9A-Fa-f]+)>", block)
    }
    content = page.get_contents()
    assert content is not None
    runs = []
    for literal in re.findall(rb"\(((?:[^\\)]|\\.)*)\)\s*Tj", content.get_data(), re.DOTALL):
        codes = _unescape(literal)
        runs.append("".join(to_unicode[codes[i:i + 2]] for i in range(0, len(codes), 2)))
    return runs


def pages_text(pdf: bytes) -> list[list[str]]:
    """Each page's text runs, in the order drawn."""
    return [text_runs(page) for page in PdfReader(io.BytesIO(pdf)).pages]
