"""docs/SECURITY.md shows the authority matrix the code enforces."""

from __future__ import annotations

from pathlib import Path

from xinbao.iam.model.security import AUTHORITY, Action, Role

DOC = Path(__file__).resolve().parents[2] / "docs" / "SECURITY.md"


def test_the_documented_authority_matrix_is_the_one_in_the_code():
    text = DOC.read_text(encoding="utf-8")
    start, end = "<!-- authority-matrix:start -->", "<!-- authority-matrix:end -->"
    table = text.split(start)[1].split(end)[0]
    rows = [line.strip().strip("|").split("|") for line in table.strip().splitlines()]
    header = [cell.strip() for cell in rows[0]]
    assert header[1:] == [r.value for r in Role]
    documented = {}
    for row in rows[2:]:
        cells = [cell.strip() for cell in row]
        action = Action(cells[0].strip("`"))
        for role, cell in zip(Role, cells[1:], strict=True):
            if cell:
                documented.setdefault(role, {})[action] = (
                    None if cell == "✓" else int(cell.removeprefix("≤ ").replace(",", "")) * 100)
    assert documented == {r: AUTHORITY[r] for r in Role if AUTHORITY[r]}
    assert {Action(r[0].strip().strip("`")) for r in rows[2:]} == set(Action)
