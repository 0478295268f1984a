"""The background log handler: lines filtered, formatted and written in order on its own
thread, nothing lost when it closes; the server's access log uses it, redacted."""

from __future__ import annotations

import io
import logging
import logging.config
import threading

from xinbao.adapters.log_writer import BackgroundStreamHandler


def _logger(name: str, handler: logging.Handler) -> logging.Logger:
    log = logging.getLogger(name)
    log.handlers[:] = [handler]
    log.propagate = False
    log.setLevel(logging.INFO)
    return log


def test_lines_are_written_in_order_on_the_writer_thread_and_drained_on_close():
    stream = io.StringIO()
    handler = BackgroundStreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(message)s"))
    threads: set[str] = set()

    class Seen(logging.Filter):
        def filter(self, record: logging.LogRecord) -> bool:
            threads.add(threading.current_thread().name)
            return record.getMessage() != "dropped"

    handler.addFilter(Seen())
    log = _logger("xinbao.test.background", handler)
    for i in range(2000):
        log.info("line %d", i)
    log.info("dropped")
    handler.close()
    assert stream.getvalue().splitlines() == [f"line {i}" for i in range(2000)]
    assert threads == {"log-writer"}
    log.info("after close")  # written on the caller's thread, not lost
    assert stream.getvalue().splitlines()[-1] == "after close"


def test_the_servers_access_log_is_redacted_off_the_event_loop(capsys):
    from xinbao.entrypoints.cli import server_log_config

    logging.config.dictConfig(server_log_config())
    access = logging.getLogger("uvicorn.access")
    try:
        (handler,) = access.handlers
        assert isinstance(handler, BackgroundStreamHandler)
        access.info('%s - "%s %s HTTP/%s" %d', "127.0.0.1:1", "GET",
                    "/v1/x?id=11010519491231002X", "1.1", 200)
        handler.close()
        line = capsys.readouterr().out
    finally:
        for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
            logging.getLogger(name).handlers.clear()
    assert '"GET /v1/x?id=110105********002X HTTP/1.1" 200' in line
    assert "11010519491231002X" not in line
