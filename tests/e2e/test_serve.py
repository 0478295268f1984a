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
    env = {**os.environ, "XINBAO_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}",
           "XINBAO_SECRETS_FILE": str(tmp_path / "secrets.toml"),
           "XINBAO_MODELS_DIR": str(tmp_path / "models"), "XINBAO_PASSWORD_HASHING": "fast"}
    _cli(env, "db", "upgrade")
    secret = _cli(env, "clients", "add", "ops-1", "--name", "operations", "--role",
                  "underwriter", "--role", "underwriting_approver").strip().splitlines()[-1]
    secret = secret.strip()
    port = _free_port()
    log = tmp_path / "server.log"
    with log.open("w") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "xinbao.entrypoints.cli", "serve", "--port", str(port),
             "--workers", "2"], env=env, stdout=out, stderr=subprocess.STDOUT, text=True)
    try:
        # Each process listens once its application is loaded, and says so: until the
        # second has, the first takes every connection.
        deadline = time.monotonic() + 60
        while len(re.findall(r"Server process [12] of 2 \(pid \d+\) listening on "
                             rf"http://127\.0\.0\.1:{port}\n", log.read_text())) < 2:
            assert server.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not come up:\n" + log.read_text()
            time.sleep(0.2)
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
