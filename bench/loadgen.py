"""A closed-loop HTTP/1.1 load generator for the benches (run it in its own process).

``concurrency`` keep-alive connections on one event loop (uvloop when installed), each
sending its next request as soon as the last is answered. Requests are raw bytes and answers
are read by ``Content-Length``, so that the generator spends as little of the machine as it
can: on a 2-core machine it shares the cores with the server it measures.

A helper of ``bench/decisions.py`` and ``bench/http_floor.py``, never run on its own: their
``--smoke`` runs smoke it too.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing as mp
import os
import statistics
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def post(port: int, path: str, body: Any, headers: dict[str, str] | None = None) -> bytes:
    """A POST request with a JSON body, as bytes."""
    data = json.dumps(body).encode()
    lines = [f"POST {path} HTTP/1.1", f"Host: 127.0.0.1:{port}",
             "Content-Type: application/json", f"Content-Length: {len(data)}",
             *(f"{k}: {v}" for k, v in (headers or {}).items())]
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + data


@dataclass(frozen=True, slots=True)
class Run:
    seconds: float  # wall time from the first request sent to the last answer
    latencies: list[float]  # seconds, sorted
    errors: list[str]
    cpu_seconds: float  # the generator's own CPU meanwhile (user + system)


def run(port: int, requests: list[bytes], concurrency: int, out: mp.Queue) -> None:
    """Send every request; put (seconds, latencies, errors, CPU seconds) on ``out``."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with the server's dependencies
        uvloop = None
    queue = requests[::-1]
    latencies: list[float] = []
    errors: list[str] = []

    async def connection() -> None:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        while queue:
            started = time.perf_counter()
            writer.write(queue.pop())
            header = await reader.readuntil(b"\r\n\r\n")
            status = int(header[9:12])
            length = next(int(line.split(b":", 1)[1]) for line in header.split(b"\r\n")
                          if line.lower().startswith(b"content-length:"))
            payload = await reader.readexactly(length)
            latencies.append(time.perf_counter() - started)
            if not 200 <= status < 300:
                errors.append(f"{status} {payload[:120]!r}")
        writer.close()

    async def all_connections() -> float:
        started = time.perf_counter()
        await asyncio.gather(*(connection() for _ in range(concurrency)))
        return time.perf_counter() - started

    cpu = time.process_time()
    seconds = (uvloop.run(all_connections()) if uvloop is not None
               else asyncio.run(all_connections()))
    out.put((seconds, latencies, errors, time.process_time() - cpu))


def measure(port: int, requests: list[bytes], concurrency: int) -> Run:
    """Run the generator in a process of its own."""
    out: mp.Queue = mp.Queue()
    process = mp.Process(target=run, args=(port, requests, concurrency, out))
    process.start()
    seconds, latencies, errors, cpu = out.get()
    process.join()
    return Run(seconds, sorted(latencies), errors, cpu)


def tree_cpu_seconds(root: int) -> float | None:
    """CPU seconds (user + system) used so far by a process and all its descendants (a
    server and its worker processes), from Linux's /proc; None where there is none."""
    proc = Path("/proc")
    if not (proc / str(root) / "stat").exists():
        return None
    children: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in proc.iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:  # the process has just exited
            continue
        fields = stat[stat.rindex(")") + 2:].split()  # after the command name
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        ticks[pid] = int(fields[11]) + int(fields[12])  # utime + stime
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo.extend(children.get(pid, []))
    return total / os.sysconf("SC_CLK_TCK")


def summary(latencies: list[float]) -> str:
    q = statistics.quantiles(latencies, n=100)
    return (f"p50 {q[49] * 1000:.1f} ms, p95 {q[94] * 1000:.1f} ms, p99 {q[98] * 1000:.1f} ms, "
            f"max {latencies[-1] * 1000:.1f} ms")
