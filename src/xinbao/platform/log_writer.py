"""The web server's access log: one line a request, redacted, written in batches off the
event loop.

uvicorn's own access log makes a ``logging`` record on the event loop for every request and
formats and writes each line through the logging machinery: about 65 µs a line, and with a
line a request that was 0.15-0.2 ms of a decision request's 0.6 ms outside the decision
itself (issue 5's notes). ``xinbao serve`` switches it off and logs through
``AccessLogWriter`` instead:

- on the event loop, a request's line is only its raw fields appended to a queue (about a
  microsecond);
- a writer thread wakes at most every ``interval_s`` (50 ms by default) while lines come,
  formats what has come in uvicorn's access format (``INFO:     client - "POST /path
  HTTP/1.1" 200 OK``, coloured on a terminal as uvicorn colours it), redacts each line
  (``platform/redaction.redact_text``: ID numbers, phones and cards in URLs are masked) and
  writes them in order, in writes of whole lines of at most ``PIPE_BUF`` bytes, so that the
  lines of several server processes on one pipe never cut into each other;
- ``close`` writes out what is queued. Lines the stream refuses (a closed pipe) are lost
  with a traceback on standard error, as ``logging``'s handlers do, and writing goes on.
"""

from __future__ import annotations

import http
import select
import sys
import threading
import time
import traceback
import urllib.parse
from collections import deque
from collections.abc import Callable
from typing import TextIO

from xinbao.platform.redaction import redact_text

#: Bytes a write to a pipe may hold and still never interleave with another process's.
_ATOMIC_BYTES = getattr(select, "PIPE_BUF", 512)

#: (client host and port or None, method, path, query string, HTTP version, status code)
Entry = tuple[tuple[str, int] | None, str, str, bytes, str, int]


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return ""


#: uvicorn's colours of a status class (its ``AccessFormatter``), as ANSI codes.
_STATUS_COLOURS = {1: "97", 2: "32", 3: "33", 4: "31", 5: "91"}


def _plain(request_line: str, status: str, code: int) -> tuple[str, str]:
    return request_line, status


def _coloured(request_line: str, status: str, code: int) -> tuple[str, str]:
    colour = _STATUS_COLOURS.get(code // 100)
    return (f"\x1b[1m{request_line}\x1b[0m",
            f"\x1b[{colour}m{status}\x1b[0m" if colour else status)


def format_line(entry: Entry, *, colours: bool = False) -> str:
    """One access line as uvicorn writes it (its ``AccessFormatter``), not yet redacted."""
    client, method, path, query, version, status = entry
    full_path = urllib.parse.quote(path)
    if query:
        full_path = f"{full_path}?{query.decode('ascii', 'replace')}"
    style: Callable[[str, str, int], tuple[str, str]] = _coloured if colours else _plain
    request_line, status_text = style(f"{method} {full_path} HTTP/{version}",
                                      f"{status} {_phrase(status)}", status)
    level = "\x1b[32mINFO\x1b[0m" if colours else "INFO"
    address = f"{client[0]}:{client[1]:d}" if client else ""
    return f"{level}:     {address} - \"{request_line}\" {status_text}\n"


class AccessLogWriter:
    """Queues access lines from any thread and writes them, redacted, on a thread of its
    own (named ``access-log``), in the order queued."""

    def __init__(self, stream: TextIO, *, interval_s: float = 0.05,
                 colours: bool | None = None) -> None:
        self._stream = stream
        self._interval = interval_s
        self._colours = stream.isatty() if colours is None else colours
        self._queue: deque[Entry] = deque()
        self._wake = threading.Event()
        self._closed = False
        self._writer = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._writer.start()

    def log(self, entry: Entry) -> None:
        """Queue one request's line (cheap: the formatting happens on the writer)."""
        if self._closed:  # after close: written here, as it comes
            self._write([entry])
            return
        self._queue.append(entry)  # deque.append is atomic
        if not self._wake.is_set():
            self._wake.set()

    def close(self) -> None:
        """Stop the writer once everything queued is written."""
        if self._closed:
            return
        self._closed = True
        self._wake.set()
        self._writer.join(timeout=10)
        self._write(self._take())  # anything queued while it stopped

    def _take(self) -> list[Entry]:
        out = []
        while self._queue:
            out.append(self._queue.popleft())
        return out

    def _run(self) -> None:
        while not self._closed:
            self._wake.wait()
            if not self._closed:
                time.sleep(self._interval)  # let lines gather: one write for many
            self._wake.clear()
            try:
                self._write(self._take())
            except Exception:  # noqa: BLE001 - as logging's handlers do: say so, go on
                traceback.print_exc(file=sys.stderr)

    def _write(self, entries: list[Entry]) -> None:
        """Write the lines in order, each write whole lines of at most ``PIPE_BUF`` bytes
        (a longer line alone), flushed at once."""
        chunk: list[str] = []
        size = 0
        for entry in entries:
            line = redact_text(format_line(entry, colours=self._colours))
            length = len(line.encode("utf-8"))
            if chunk and size + length > _ATOMIC_BYTES:
                self._flush(chunk)
                chunk, size = [], 0
            chunk.append(line)
            size += length
        if chunk:
            self._flush(chunk)

    def _flush(self, lines: list[str]) -> None:
        self._stream.write("".join(lines))
        self._stream.flush()
