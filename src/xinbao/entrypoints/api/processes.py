"""Several server processes on one port, each with a listening socket of its own.

uvicorn's ``--workers`` shares one listening socket among its processes: whichever process
is woken first accepts every connection waiting, so a client that opens its keep-alive
connections together (a funder's system, the bench's load generator) often had all of
them served by one process while the others idled (two processes keeping 0.92 of the two
cores busy in issue 5's runs, against 1.5–1.6 when they shared the connections).

Here each process binds its own socket to the port with ``SO_REUSEPORT``: the kernel
spreads new connections over the sockets by their addresses, whichever process is busy.
The parent only starts the processes and stops them: on SIGINT or SIGTERM it asks each to
shut down gracefully (uvicorn's own SIGTERM handling) and waits for them; if one exits by
itself, the others are stopped too and the parent exits with an error, so that the service
manager restarts the whole server; a parent killed outright takes its processes with it
(Linux's parent-death signal). Where the system has no ``SO_REUSEPORT``, the caller falls
back to uvicorn's shared socket (``available``).

``SO_REUSEPORT`` would also let a second server on the port, another ``xinbao serve
--workers`` by mistake, slip its sockets in beside ours and take a share of our
connections: the CLI first looks that nothing listens there (``unavailable``).
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import socket
import sys
import threading
from typing import Any

APP = "xinbao.entrypoints.api.app:app_from_environment"
_GRACE_S = 30


def available() -> bool:
    return hasattr(socket, "SO_REUSEPORT")


def _family(host: str) -> socket.AddressFamily:
    return socket.AF_INET6 if ":" in host else socket.AF_INET


def unavailable(host: str, port: int) -> str | None:
    """Why nothing may listen on (host, port) now, or None. Checked with a plain socket,
    without ``SO_REUSEPORT``: the sockets of a server already there, another ``xinbao serve
    --workers`` among them, would otherwise take ours beside them and share its
    connections with it."""
    with socket.socket(_family(host), socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            return error.strerror or str(error)
    return None


def listening_socket(host: str, port: int) -> socket.socket:
    """A socket bound to (host, port) that other processes may bind too (SO_REUSEPORT)."""
    sock = socket.socket(_family(host), socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


def listening_message(number: int, workers: int, host: str, port: int) -> str:
    """What a process logs once it listens: until then the kernel gives it no connection."""
    address = f"[{host}]" if ":" in host else host
    return (f"Server process {number} of {workers} (pid {os.getpid()}) listening on "
            f"http://{address}:{port}")


def _stop_with_parent(parent: int) -> None:
    """Have the kernel send this process SIGTERM when its parent dies (Linux), so that a
    parent killed outright (``kill -9``) leaves no server process behind, still serving."""
    if not sys.platform.startswith("linux"):
        return
    import ctypes

    pr_set_pdeathsig = 1
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() != parent:  # it died before that took effect
        os.kill(os.getpid(), signal.SIGTERM)


def _serve_one(number: int, workers: int, host: str, port: int,
               log_config: dict[str, Any], parent: int | None = None) -> None:
    import logging

    import uvicorn

    class Server(uvicorn.Server):
        async def startup(self, sockets: list[socket.socket] | None = None) -> None:
            await super().startup(sockets)
            if self.started:  # uvicorn logs no "running on" line for sockets passed in
                logging.getLogger("uvicorn.error").info(
                    listening_message(number, workers, host, port))

    if parent is not None:
        _stop_with_parent(parent)
    try:
        sock = listening_socket(host, port)
    except OSError as error:  # taken since the parent looked (``unavailable``)
        print(f"Server process {number} of {workers}: cannot listen on {host}:{port}: "
              f"{error.strerror or error}", file=sys.stderr, flush=True)
        sys.exit(1)
    config = uvicorn.Config(APP, factory=True, host=host, port=port, log_level="info",
                            log_config=log_config, server_header=False, access_log=False)
    Server(config).run(sockets=[sock])


def serve_processes(host: str, port: int, workers: int, log_config: dict[str, Any]) -> int:
    """Run ``workers`` server processes until a signal stops them (0) or one of them exits
    by itself (1). Each listens once its application is loaded, and logs so
    (``listening_message``): until every one has, the first ones take all connections."""
    context = multiprocessing.get_context("spawn")
    processes = [context.Process(target=_serve_one,
                                 args=(i + 1, workers, host, port, log_config,
                                       os.getpid()),
                                 name=f"xinbao-serve-{i + 1}") for i in range(workers)]
    stop = threading.Event()
    previous = {s: signal.signal(s, lambda *_: stop.set())
                for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        for p in processes:
            p.start()
        while not stop.wait(0.5):
            if not all(p.is_alive() for p in processes):
                break
        failed = not stop.is_set()
        if failed:
            gone = ", ".join(f"{p.name} (exit code {p.exitcode})" for p in processes
                             if not p.is_alive())
            print(f"Server process stopped by itself: {gone}; stopping the others.",
                  file=sys.stderr, flush=True)
        for p in processes:
            if p.is_alive():
                p.terminate()  # SIGTERM: uvicorn finishes what it serves, then exits
        for p in processes:
            p.join(_GRACE_S)
            if p.is_alive():
                p.kill()
                p.join()
        return 1 if failed else 0
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
