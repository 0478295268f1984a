"""The access log: uvicorn's line format, redacted, written in order on its own thread in
whole-line writes no longer than a pipe writes at once, nothing lost when it closes."""

from __future__ import annotations

import io
import select
import threading

import pytest

from xinbao.platform.log_writer import AccessLogWriter, format_line

ENTRIES = [
    (("127.0.0.1", 51234), "POST", "/v1/applications/12/approve", b"", "1.1", 200),
    (("10.0.0.7", 80), "GET", "/v1/applications", b"status=submitted&limit=5", "1.1", 404),
    (None, "GET", "/console/贷款 list", b"", "1.0", 302),
    (("::1", 9), "DELETE", "/v1/x", b"", "2", 599),  # no phrase, no colour class
    (("127.0.0.1", 1), "POST", "/oauth/token", b"", "1.1", 503),
]

#: What uvicorn's access log writes for each of ENTRIES (its ``AccessFormatter`` with
#: ``'%(levelprefix)s %(client_addr)s - "%(request_line)s" %(status_code)s'``), plain and on
#: a terminal: the path percent-encoded, the query kept, no address when there is no client,
#: the status's phrase (none for 599), the status coloured by its class.
PLAIN = [
    'INFO:     127.0.0.1:51234 - "POST /v1/applications/12/approve HTTP/1.1" 200 OK\n',
    'INFO:     10.0.0.7:80 - "GET /v1/applications?status=submitted&limit=5 HTTP/1.1"'
    ' 404 Not Found\n',
    'INFO:      - "GET /console/%E8%B4%B7%E6%AC%BE%20list HTTP/1.0" 302 Found\n',
    'INFO:     ::1:9 - "DELETE /v1/x HTTP/2" 599 \n',
    'INFO:     127.0.0.1:1 - "POST /oauth/token HTTP/1.1" 503 Service Unavailable\n',
]
_B, _OFF, _INFO = "\x1b[1m", "\x1b[0m", "\x1b[32mINFO\x1b[0m"
COLOURED = [
    f'{_INFO}:     127.0.0.1:51234 - "{_B}POST /v1/applications/12/approve HTTP/1.1{_OFF}"'
    f' \x1b[32m200 OK{_OFF}\n',
    f'{_INFO}:     10.0.0.7:80 - "{_B}GET /v1/applications?status=submitted&limit=5 HTTP/1.1'
    f'{_OFF}" \x1b[31m404 Not Found{_OFF}\n',
    f'{_INFO}:      - "{_B}GET /console/%E8%B4%B7%E6%AC%BE%20list HTTP/1.0{_OFF}"'
    f' \x1b[33m302 Found{_OFF}\n',
    f'{_INFO}:     ::1:9 - "{_B}DELETE /v1/x HTTP/2{_OFF}" \x1b[91m599 {_OFF}\n',
    f'{_INFO}:     127.0.0.1:1 - "{_B}POST /oauth/token HTTP/1.1{_OFF}"'
    f' \x1b[91m503 Service Unavailable{_OFF}\n',
]


class Recording(io.StringIO):
    """A stream that keeps each write and the thread that made it."""

    def __init__(self) -> None:
        super().__init__()
        self.writes: list[tuple[str, str]] = []

    def write(self, text: str) -> int:
        self.writes.append((threading.current_thread().name, text))
        return super().write(text)


@pytest.mark.parametrize(("entry", "plain", "coloured"),
                         list(zip(ENTRIES, PLAIN, COLOURED, strict=True)))
def test_a_line_reads_as_uvicorns_access_log_line(entry, plain, coloured) -> None:
    assert format_line(entry) == plain
    assert format_line(entry, colours=True) == coloured


def test_lines_are_written_in_order_redacted_in_whole_lines_off_the_callers_thread() -> None:
    stream = Recording()
    writer = AccessLogWriter(stream, interval_s=0.001, colours=False)
    entries = [(("127.0.0.1", i), "GET", f"/v1/x/{i}", b"id=11010519491231002X", "1.1", 200)
               for i in range(3000)]
    for entry in entries:
        writer.log(entry)
    writer.close()

    lines = stream.getvalue().splitlines(keepends=True)
    assert lines == [format_line(e).replace("11010519491231002X", "110105********002X")
                     for e in entries]
    assert "11010519491231002X" not in stream.getvalue()
    assert {thread for thread, _ in stream.writes} == {"access-log"}
    assert len(stream.writes) > 1
    for _, text in stream.writes:  # whole lines, each write at most what a pipe keeps whole
        assert text.endswith("\n") and len(text.encode()) <= select.PIPE_BUF

    writer.log(entries[0])  # after close: written at once, on the caller's thread
    assert stream.writes[-1] == (threading.current_thread().name, lines[0])


def test_a_line_longer_than_a_pipe_write_goes_out_whole_and_alone() -> None:
    stream = Recording()
    writer = AccessLogWriter(stream, interval_s=0.001, colours=False)
    long = (("127.0.0.1", 1), "GET", "/v1/" + "a" * 5000, b"", "1.1", 414)
    short = (("127.0.0.1", 2), "GET", "/v1/b", b"", "1.1", 200)
    for entry in (short, long, short):
        writer.log(entry)
    writer.close()

    assert [text for _, text in stream.writes] == [
        format_line(short), format_line(long), format_line(short)]


def test_lines_logged_from_several_threads_are_all_written_once() -> None:
    stream = Recording()
    writer = AccessLogWriter(stream, interval_s=0.002, colours=False)

    def send(n: int) -> None:
        for i in range(500):
            writer.log((("127.0.0.1", n), "GET", f"/v1/{n}/{i}", b"", "1.1", 200))

    threads = [threading.Thread(target=send, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    writer.close()

    lines = stream.getvalue().splitlines()
    assert len(lines) == 2000
    for n in range(4):  # each thread's lines in its own order
        own = [line for line in lines if f"127.0.0.1:{n} " in line]
        assert own == [f'INFO:     127.0.0.1:{n} - "GET /v1/{n}/{i} HTTP/1.1" 200 OK'
                       for i in range(500)]


def test_a_stream_that_refuses_a_write_loses_those_lines_not_the_writer(capsys) -> None:
    class Flaky(Recording):
        def write(self, text: str) -> int:
            if "/refused" in text:
                raise OSError("broken pipe")
            return super().write(text)

    stream = Flaky()
    writer = AccessLogWriter(stream, interval_s=0.001, colours=False)
    writer.log((("127.0.0.1", 1), "GET", "/refused", b"", "1.1", 200))
    for _ in range(200):  # until the writer has tried
        if "broken pipe" in capsys.readouterr().err:
            break
        threading.Event().wait(0.005)
    else:
        raise AssertionError("the refused write was not reported")
    writer.log((("127.0.0.1", 2), "GET", "/later", b"", "1.1", 200))
    writer.close()
    assert stream.getvalue() == 'INFO:     127.0.0.1:2 - "GET /later HTTP/1.1" 200 OK\n'
