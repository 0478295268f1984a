"""`xinbao serve --workers 2` as an operator runs it: several server processes on one port,
each with its own application, sharing the database and the signing keys."""

from __future__ import annotations

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run([sys.executable, "-m", "xinbao.entrypoints.cli", *args], env=env,
                          input=stdin, capture_output=True, text=True, timeout=120,
                          check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def _request(port: int, method: str, path: str, body: str | None = None,
             headers: dict[str, str] | None = None) -> tuple[int, dict]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(method, path, body, headers or {})
    response = conn.getresponse()
    payload = response.read()
    conn.close()
    return response.status, json.loads(payload or b"{}")


def _env(tmp_path: Path) -> dict[str, str]:
    return {**os.environ, "XINBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
            "XINBAO_SECRETS_FILE": str(tmp_path / "secrets.toml"),
            "XINBAO_MODELS_DIR": str(tmp_path / "models"), "XINBAO_PASSWORD_HASHING": "fast"}


def _serve_two(env: dict[str, str], port: int, log: Path) -> tuple[subprocess.Popen, list[int]]:
    """`xinbao serve --workers 2`, once both processes listen (each listens once its
    application is loaded, and says so: until the second has, the first takes every
    connection); the server and its processes' ids."""
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "xinbao.entrypoints.cli", "serve", "--port", str(port),
             "--workers", "2"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 60
    while True:
        said = re.findall(r"Server process [12] of 2 \(pid (\d+)\) listening on "
                          rf"http://127\.0\.0\.1:{port}\n", log.read_text())
        if len(said) == 2:
            return server, [int(pid) for pid in said]
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise AssertionError("the server did not come up:\n" + log.read_text())
        time.sleep(0.2)


def _established_by_process(parent: int, port: int) -> dict[int, int]:
    """How many established connections to ``port`` each child process of ``parent`` holds
    (Linux: sockets from /proc/<pid>/fd, their state from /proc/net/tcp)."""
    established = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "01":
            established.add(fields[9])  # the socket's inode
    out = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat[stat.rindex(")") + 2:].split()[1]) != parent:
                continue
            inodes = {os.readlink(fd)[8:-1] for fd in (entry / "fd").iterdir()
                      if os.readlink(fd).startswith("socket:[")}
        except OSError:  # gone meanwhile
            continue
        if inodes & established:
            out[int(entry.name)] = len(inodes & established)
    return out


def test_several_server_processes_answer_on_one_port_with_shared_keys(tmp_path: Path):
    env = _env(tmp_path)
    _cli(env, "db", "upgrade")
    secret = _cli(env, "clients", "add", "ops-1", "--name", "operations", "--role",
                  "underwriter", "--role", "underwriting_approver").strip().splitlines()[-1]
    secret = secret.strip()
    port = _free_port()
    log = tmp_path / "server.log"
    server, _ = _serve_two(env, port, log)
    try:
        status, health = _request(port, "GET", "/health")
        assert (status, health["status"]) == (200, "ok")
        status, grant = _request(
            port, "POST", "/oauth/token",
            f"grant_type=client_credentials&client_id=ops-1&client_secret={secret}",
            {"Content-Type": "application/x-www-form-urlencoded"})
        assert status == 200
        bearer = {"Authorization": f"Bearer {grant['access_token']}"}
        # Fresh connections, so that both processes get some of them: each accepts the token.
        answers = [_request(port, "GET", "/v1/me", headers=bearer) for _ in range(20)]
        assert {s for s, _ in answers} == {200}
        assert {a["actor"] for _, a in answers} == {"client:ops-1"}
        if Path("/proc/net/tcp").exists():
            # 16 keep-alive connections opened together are spread over both processes
            # (each has its own socket on the port), not all taken by the first one woken.
            held = [socket.create_connection(("127.0.0.1", port)) for _ in range(16)]
            try:
                for c in held:
                    c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
                for c in held:
                    assert c.recv(65536).startswith(b"HTTP/1.1 200")
                per_process = _established_by_process(server.pid, port)
            finally:
                for c in held:
                    c.close()
            assert len(per_process) == 2, per_process
            assert sum(per_process.values()) == 16 and min(per_process.values()) >= 1
        # Approve requests meet the decision lane first; what it cannot answer (an unknown
        # application, a body the route refuses) reaches the route with its body intact.
        json_bearer = {**bearer, "Content-Type": "application/json"}
        status, missing = _request(port, "POST", "/v1/applications/987654/approve",
                                   '{"on": "2025-01-15"}', json_bearer)
        assert (status, missing["detail"]) == (404, "application 987654 not found")
        status, refused = _request(port, "POST", "/v1/applications/987654/approve",
                                   '{"on": "2025-02-30"}', json_bearer)
        assert status == 422 and refused["detail"][0]["loc"] == ["body", "on"]
    finally:
        server.send_signal(signal.SIGINT)
        server.wait(timeout=30)
    output = log.read_text()
    assert server.returncode == 0, output
    assert re.search(r"with\s+2\s+processes", output)


def _serve_refused(tmp_path: Path, *args: str) -> subprocess.CompletedProcess:
    env = {**_env(tmp_path), "COLUMNS": "200"}
    return subprocess.run([sys.executable, "-m", "xinbao.entrypoints.cli", "serve", *args],
                          env=env, capture_output=True, text=True, timeout=60, check=False)


def test_serve_refuses_a_port_another_server_listens_on(tmp_path: Path):
    # The sockets of another `xinbao serve --workers` (SO_REUSEPORT) would take ours beside
    # them, and the two servers would share the port's connections: refused, in one line.
    other = socket.socket()
    other.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    other.bind(("127.0.0.1", 0))
    other.listen()
    port = other.getsockname()[1]
    try:
        for workers in ("2", "1"):
            done = _serve_refused(tmp_path, "--port", str(port), "--workers", workers)
            assert done.returncode == 1, done.stdout + done.stderr
            assert f"Cannot listen on 127.0.0.1:{port}: Address already in use" in done.stderr
            assert "Traceback" not in done.stderr and "Serving" not in done.stdout
    finally:
        other.close()
    assert not (tmp_path / "x.db").exists()  # refused before anything was opened


def test_serve_refuses_any_free_port_for_several_processes(tmp_path: Path):
    done = _serve_refused(tmp_path, "--port", "0", "--workers", "2")
    assert done.returncode == 2
    assert "--port 0 (any free port) needs --workers 1" in done.stderr


def test_a_server_process_that_cannot_listen_says_so_and_exits(capsys):
    # Taken between the parent's look and the process's start: one line, exit code 1 (the
    # parent then stops the others and exits 1).
    from xinbao.entrypoints.api import processes

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert processes.unavailable("127.0.0.1", port) == "Address already in use"
        with pytest.raises(SystemExit) as stopped:
            processes._serve_one(2, 3, "127.0.0.1", port, {})
    assert stopped.value.code == 1
    assert capsys.readouterr().err == (f"Server process 2 of 3: cannot listen on "
                                       f"127.0.0.1:{port}: Address already in use\n")


def test_server_processes_stop_when_their_parent_is_killed(tmp_path: Path):
    port, log = _free_port(), tmp_path / "server.log"
    server, children = _serve_two(_env(tmp_path), port, log)
    server.kill()  # no chance to stop its processes itself
    server.wait(timeout=30)
    deadline = time.monotonic() + 30
    while any(_alive(pid) for pid in children):
        assert time.monotonic() < deadline, f"left behind: {children}\n{log.read_text()}"
        time.sleep(0.2)
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", port), timeout=2).close()


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return state[state.rindex(")") + 2] != "Z"  # a zombie has stopped; init reaps it
