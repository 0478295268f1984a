"""A log handler that filters, formats and writes on a thread of its own.

The web server logs every request (uvicorn's access log) from its event loop. Formatting the
line and writing it there cost the loop 5–10 % of a decision request's CPU under load: the
write is a system call that lets the busy decision thread take the interpreter, and the
loop then waits for it back. ``BackgroundStreamHandler`` only queues the record on the
calling thread; a writer thread runs the handler's filters (redaction included), formats
the line and writes it, in the order logged. Lines still go out as they come; at exit, or
when the handler is closed, the queue is written out before the handler closes.
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any, TextIO

_STOP = object()


class BackgroundStreamHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """``logging.StreamHandler`` whose filtering, formatting and writing happen on a thread
    of its own (usable from ``logging.config.dictConfig`` as the handler's class)."""

    def __init__(self, stream: TextIO | None = None) -> None:
        super().__init__(stream)
        self._queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_queued, name="log-writer",
                                        daemon=True)
        self._writer.start()

    def handle(self, record: logging.LogRecord) -> bool:  # type: ignore[override]
        if not self._writer.is_alive():  # closed: write here, as a plain handler would
            return bool(super().handle(record))
        self._queue.put(record)
        return True

    def _write_queued(self) -> None:
        while (record := self._queue.get()) is not _STOP:
            super().handle(record)

    def close(self) -> None:
        if self._writer.is_alive():
            self._queue.put(_STOP)
            self._writer.join(timeout=10)
        super().close()
