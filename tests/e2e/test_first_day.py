"""README's "First day" section, run exactly as written: its ``sh`` blocks are read from
README.md itself (so the two cannot drift) and run by bash, one command after another, from an
empty database to a recovered claim, on SQLite and on PostgreSQL.

A command whose line ends in ``# refused (exit N)`` must exit N; every other command must
exit 0. Then what the walk-through claims is checked in the database.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

from sqlalchemy import create_engine, func, select

from tests import support
from xinbao.claims import tables as claims_tables
from xinbao.ledger import tables as ledger_tables
from xinbao.policy import tables as policy_tables

ROOT = Path(__file__).resolve().parents[2]
REFUSED = re.compile(r"#\s*refused \(exit (\d+)\)")


def first_day_commands(readme: str) -> list[str]:
    """The commands of README's "First day" section: its ``sh`` blocks, backslash-continued
    lines joined, heredocs kept whole, comments and blank lines dropped."""
    section = readme.split("\n## First day", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```sh\n(.*?)```", section, flags=re.S)
    assert blocks, "README's First day section has no sh block"
    commands: list[str] = []
    lines = iter("\n".join(blocks).splitlines())
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        while line.endswith("\\"):
            line = line[:-1] + next(lines).strip()
        heredoc = re.search(r"<<'?(\w+)'?", line)
        if heredoc:
            body = []
            for more in lines:
                body.append(more)
                if more.strip() == heredoc.group(1):
                    break
            line = "\n".join([line, *body])
        commands.append(line)
    return commands


def script(commands: list[str]) -> str:
    """One bash script: each command checked for the exit status README promises."""
    parts = ["set -uo pipefail"]
    for number, command in enumerate(commands, start=1):
        refused = REFUSED.search(command)
        want = int(refused.group(1)) if refused else 0
        label = command.splitlines()[0][:100].replace("'", "")
        parts.append(f"{command}\nrc=$?\nif [ $rc -ne {want} ]; then echo 'command {number} "
                     f"exited '$rc', README says {want}: {label}' >&2; exit 1; fi")
    return "\n".join(parts) + "\n"


def test_readme_commands_are_read_whole():
    commands = first_day_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    assert any(c.startswith("cat >") and c.rstrip().endswith("EOF") for c in commands)
    assert any(REFUSED.search(c) for c in commands), "the four-eyes refusal is shown"
    assert all(not c.endswith("\\") for c in commands)


def test_first_day_runs_as_written_in_the_readme(empty_database_url: str, tmp_path: Path):
    commands = first_day_commands((ROOT / "README.md").read_text(encoding="utf-8"))
    (tmp_path / ".venv").symlink_to(ROOT / ".venv")
    env = {**os.environ, "XINBAO_DATABASE_URL": empty_database_url,
           "XINBAO_SECRETS_FILE": str(support.SECRETS_FILE),
           "XINBAO_MODELS_DIR": str(tmp_path / "models"), "XINBAO_PASSWORD_HASHING": "fast",
           "COLUMNS": "160"}
    env.pop("XINBAO_USER", None)
    done = subprocess.run(["bash", "-c", script(commands)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-4000:]
    assert "Balanced" in done.stdout and "Audit trail intact" in done.stdout

    engine = create_engine(empty_database_url)
    try:
        with engine.connect() as c:
            policies = c.execute(select(policy_tables.policies.c.status)).scalars().all()
            claims = c.execute(select(claims_tables.claims.c.status,
                                      claims_tables.claims.c.recovered_fen)).all()
            total = c.execute(select(func.coalesce(func.sum(
                ledger_tables.journal_lines.c.amount_fen), 0))).scalar_one()
    finally:
        engine.dispose()
    assert policies == ["claimed"]
    assert len(claims) == 1 and claims[0].status == "recovering" and claims[0].recovered_fen > 0
    assert total == 0
